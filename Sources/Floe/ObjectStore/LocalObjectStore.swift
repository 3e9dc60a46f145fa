#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// An object store in a local directory: object `a/b.sst` is the file
/// `<root>/a/b.sst`. The embedded default.
///
/// Guarantees:
/// - `put` and `createIfAbsent` write a temp file `.<name>.<random>.tmp` next to
///   the target, fsync it, then rename (put) or hard-link (createIfAbsent) it
///   into place and fsync the directory (and, the first time this instance
///   writes into a directory, every ancestor up to the root): a reader sees the
///   whole object or none, and the object is durable when the call returns.
/// - A `createIfAbsent` that finds the object present fsyncs its directory too,
///   so `false` also means the existing object is durable.
/// - `createIfAbsent` is atomic across threads and processes (`link(2)` fails
///   with `EEXIST` for all but one caller).
/// - Temp files (`.tmp` suffix) are never listed; a crash may leave them behind.
/// - A directory whose fsync failed is never trusted again by this instance:
///   every later write that must fsync it throws `FloeError.io`. Linux reports
///   a writeback error to one fsync only and may drop the unsynced state with it,
///   so a retried fsync can succeed although the earlier names were never made
///   durable; a retry would then report as durable an object that a power cut can
///   still take away. Open a new instance (after checking the disk) to go on.
///
/// Ranged reads (SST blocks) go through a bounded cache of open descriptors.
/// Writes and deletes made through this instance invalidate it; a file deleted
/// by another process may still be read through a cached descriptor until it is
/// evicted (SSTs never change, and GC deletes them only after a grace). A
/// whole-object `get` (manifest records, leases) always opens the file anew, so
/// it sees what other processes deleted or created: the manifest's fencing check
/// reads a delta that another process may have pruned, and a cached descriptor
/// would still read the pruned file.
///
/// Errors: invalid paths are `FloeError.invalidArgument`, missing objects
/// `FloeError.objectNotFound(path)`, reads past the end `FloeError.corruption`,
/// and every other failed system call `FloeError.io(path:reason:)` naming the
/// file system path and `"<syscall>: <strerror>"`.
///
/// The calls are blocking system calls made on the caller's task; they are
/// short for local disks, so no thread hop is taken. They go through a
/// `FileSystem`: the real one, or in tests a `PowerLossFileSystem` that drops
/// whatever was not yet durable at a simulated power cut.
public final class LocalObjectStore: ObjectStore {
    /// Absolute, canonical path of the store's root directory.
    public let root: String
    /// Open read descriptors (internal so tests can check the bound).
    let files: FileDescriptorCache
    /// `objectstore.*` failpoints: those of `FLOE_FAILPOINTS` unless a test passes its own.
    let failpoints: FailpointRegistry
    /// Where the files live: `PosixFileSystem` unless a test passes a simulated one.
    let fileSystem: any FileSystem
    /// Directories (file system paths) whose chain of names up to `root` this
    /// instance has fsynced: see `makeNameDurable`.
    private let durableDirectories = Lock<Set<String>>([])
    /// Directories (file system paths) whose fsync failed: never trusted again (see the type's guarantees).
    private let failedDirectories = Lock<Set<String>>([])

    /// Default bound on cached read descriptors.
    static let defaultDescriptorCacheCapacity = 256

    /// Opens the store rooted at directory `root`.
    ///
    /// - Parameters:
    ///   - root: the directory that holds the objects (`data/`, `manifest/`, ...).
    ///   - create: create `root` (and missing ancestors) if it does not exist.
    /// - Throws: `FloeError.notAFloeStore(root)` if `root` is not a directory, or is
    ///   missing and `create` is false; `FloeError.invalidArgument` for an empty
    ///   path; `FloeError.io` if it cannot be inspected or created.
    ///   `FloeError.invalidArgument` also when `FLOE_FAILPOINTS` does not parse.
    public convenience init(root: String, create: Bool = true) throws {
        try self.init(root: root, create: create, descriptorCacheCapacity: Self.defaultDescriptorCacheCapacity)
    }

    /// As the public initializer; `failpoints` replaces the process registry
    /// (`FLOE_FAILPOINTS`) and `fileSystem` the real file system.
    package init(root: String, create: Bool = true, descriptorCacheCapacity: Int = LocalObjectStore.defaultDescriptorCacheCapacity,
                 failpoints: FailpointRegistry? = nil, fileSystem: any FileSystem = PosixFileSystem()) throws {
        self.failpoints = try failpoints ?? Failpoints.process()
        self.fileSystem = fileSystem
        if root.isEmpty || root.utf8.contains(0) {
            throw FloeError.invalidArgument("store root must be a non-empty path without NUL: \(root.debugDescription)")
        }
        let status: FileStatus?
        do {
            status = try fileSystem.status(atPath: root, followSymlinks: true)
        } catch where error.code == ENOENT {
            status = nil
        } catch {
            throw FloeError.io(path: root, reason: error.reason)
        }
        if let status {
            guard status.kind == .directory else { throw FloeError.notAFloeStore(root) }
        } else {
            guard create else { throw FloeError.notAFloeStore(root) }
            try Self.check(root) { () throws(FileSystemError) in try fileSystem.makeDirectories(root) }
        }
        // Canonical absolute root: error messages name real paths and a later
        // chdir cannot redirect the store.
        self.root = try Self.check(root) { () throws(FileSystemError) in try fileSystem.canonicalPath(root) }
        self.files = FileDescriptorCache(capacity: descriptorCacheCapacity, fileSystem: fileSystem)
    }

    // MARK: - Writes

    /// Puts object `path` of this store into `other` under the same name: a hard link
    /// (no bytes copied) where both share a file system, else a copy. Durable on return.
    /// - Throws: `FloeError.objectNotFound` when `path` is absent, `FloeError.io` on failure.
    package func cloneObject(_ path: String, into other: LocalObjectStore) async throws {
        try ObjectPath.validate(path)
        let source = fileSystemPath(path), target = other.fileSystemPath(path)
        let dir = other.directory(of: target)
        do {
            try other.fileSystem.makeDirectories(dir)
            try other.fileSystem.link(source, target)
            try other.makeNameDurable(inDirectory: dir)
            return
        } catch let e as FileSystemError where e.code == ENOENT {
            throw FloeError.objectNotFound(path)
        } catch {
            // Another file system (EXDEV) or no links: copy.
        }
        try await other.put(path, try await get(path))
    }


    /// Writes (or atomically replaces) the object; durable on return.
    /// - Throws: `FloeError.invalidArgument` for a bad path, `FloeError.io` on failure
    ///   (the previous object, if any, is then unchanged).
    public func put(_ path: String, _ bytes: [UInt8]) async throws {
        try ObjectPath.validate(path)
        let target = fileSystemPath(path)
        let temp = try writeTemp(for: path, bytes)
        do { try failpoints.hit(.objectStoreBeforeRename) } catch {
            try? fileSystem.unlink(temp)
            throw error
        }
        do {
            try fileSystem.rename(temp, target)
        } catch {
            try? fileSystem.unlink(temp)
            throw FloeError.io(path: target, reason: error.reason)
        }
        files.invalidate(target)
        try failpoints.hit(.objectStoreBeforeDirFsync)
        try makeNameDurable(inDirectory: directory(of: target))
    }

    /// Creates the object only if `path` is free; durable on return.
    /// - Returns: `true` if this call created it, `false` if an object already existed
    ///   (its content is untouched, and its name is durable too).
    /// - Throws: `FloeError.invalidArgument` for a bad path, `FloeError.io` on failure.
    public func createIfAbsent(_ path: String, _ bytes: [UInt8]) async throws -> Bool {
        try ObjectPath.validate(path)
        let target = fileSystemPath(path)
        let temp = try writeTemp(for: path, bytes)
        do { try failpoints.hit(.objectStoreBeforeRename) } catch {
            try? fileSystem.unlink(temp)
            throw error
        }
        // link(2) never replaces an existing name, which makes the create atomic;
        // the temp was fsynced first, so the linked object is complete.
        var failure: FileSystemError?
        do { try fileSystem.link(temp, target) } catch { failure = error }
        // A failed unlink only leaves a stray temp file, which listings skip.
        try? fileSystem.unlink(temp)
        if let failure {
            guard failure.code == EEXIST else { throw FloeError.io(path: target, reason: failure.reason) }
            // The winner may not have synced its name yet (a concurrent call, or a
            // process that died before its fsync): a loser that acts on the
            // object must not see it vanish in a power cut.
            try makeNameDurable(inDirectory: directory(of: target))
            return false
        }
        files.invalidate(target)
        try failpoints.hit(.objectStoreBeforeDirFsync)
        try makeNameDurable(inDirectory: directory(of: target))
        return true
    }

    /// Deletes the object; a missing object is not an error.
    /// - Throws: `FloeError.invalidArgument` for a bad path, `FloeError.io` on failure.
    public func delete(_ path: String) async throws {
        try ObjectPath.validate(path)
        let target = fileSystemPath(path)
        do {
            try fileSystem.unlink(target)
        } catch {
            // ENOTDIR/EISDIR: some ancestor is a file or the path is a directory,
            // so no object of that name exists either.
            if error.code != ENOENT && error.code != ENOTDIR && error.code != EISDIR {
                throw FloeError.io(path: target, reason: error.reason)
            }
        }
        // No directory fsync: a delete that is lost in a crash leaves an
        // unreferenced object, which GC removes again.
        files.invalidate(target)
    }

    // MARK: - Reads

    /// Reads the whole object.
    /// - Throws: `FloeError.objectNotFound(path)` if missing, `FloeError.io` on failure.
    public func get(_ path: String) async throws -> [UInt8] {
        try ObjectPath.validate(path)
        let target = fileSystemPath(path)
        // Not through the descriptor cache: see the type's note on other processes.
        let file = FileDescriptorCache.OpenFile(fd: try openDescriptor(path, target), fileSystem: fileSystem)
        let size = try fileSize(file, target)
        let bytes = try read(file, target, offset: 0, count: size)
        if bytes.count != size {
            throw FloeError.corruption(object: path, offset: bytes.count,
                                       reason: "object shrank while being read: \(size) bytes expected, \(bytes.count) read")
        }
        return bytes
    }

    /// Reads `range` of the object.
    /// - Throws: `FloeError.corruption(object:offset:reason:)` with `offset == range.lowerBound`
    ///   if `range` ends past the object's end; `FloeError.objectNotFound(path)` if missing;
    ///   `FloeError.invalidArgument` for a negative range; `FloeError.io` on failure.
    public func get(_ path: String, range: Range<Int>) async throws -> [UInt8] {
        try ObjectPath.validate(path)
        try ObjectPath.validate(range, of: path)
        let target = fileSystemPath(path)
        let file = try openForReading(path, target)
        if range.isEmpty {
            // pread cannot detect an empty range past the end; check the size.
            let size = try fileSize(file, target)
            if range.upperBound > size { throw pastEnd(path, range, size: size) }
            return []
        }
        let bytes = try read(file, target, offset: range.lowerBound, count: range.count)
        if bytes.count < range.count {
            // Only a short read costs the extra fstat for the error message.
            throw pastEnd(path, range, size: try fileSize(file, target))
        }
        return bytes
    }

    /// Size in bytes of the object.
    /// - Throws: `FloeError.objectNotFound(path)` if missing, `FloeError.io` on failure.
    public func size(_ path: String) async throws -> Int {
        try ObjectPath.validate(path)
        let target = fileSystemPath(path)
        let status: FileStatus
        do {
            status = try fileSystem.status(atPath: target, followSymlinks: true)
        } catch where error.code == ENOENT || error.code == ENOTDIR {
            throw FloeError.objectNotFound(path)
        } catch {
            throw FloeError.io(path: target, reason: error.reason)
        }
        guard status.kind == .regularFile else { throw FloeError.objectNotFound(path) }
        return status.size
    }

    /// Every object whose path starts with `prefix`, sorted by path. Only the
    /// directory the prefix names (everything up to its last `/`) is walked,
    /// recursively. A missing directory yields `[]`.
    /// - Throws: `FloeError.invalidArgument` for a bad prefix, `FloeError.io` on failure.
    public func list(prefix: String) async throws -> [ObjectInfo] {
        try ObjectPath.validatePrefix(prefix)
        let start = prefix.lastIndex(of: "/").map { String(prefix[..<$0]) } ?? ""
        var found: [ObjectInfo] = []
        var pending = [start]
        while let dir = pending.popLast() {
            try scan(directory: dir, prefix: prefix, objects: &found, subdirectories: &pending)
        }
        found.sort { $0.path < $1.path }
        return found
    }

    /// Deletes temp files (`.tmp`) of crashed writes in `data/`, `manifest/` and
    /// `leases/` whose modification time is more than `seconds` before `now`.
    /// A write in flight takes far less; a paused process whose temp file went
    /// gets an error from its rename or link and nothing is lost. Returns the
    /// number deleted. Throws `io` for a directory that cannot be read.
    public func removeStaleTempFiles(olderThan seconds: Double, now: Double) throws -> Int {
        var removed = 0
        for dir in ["data", "manifest", "leases"] {
            let fsPath = fileSystemPath(dir)
            for name in try entries(fsPath) where name.hasSuffix(ObjectPath.tempSuffix) {
                let file = fsPath + "/" + name
                guard let status = try? fileSystem.status(atPath: file, followSymlinks: false),
                      status.kind == .regularFile, now - status.modified > seconds else { continue }
                if (try? fileSystem.unlink(file)) != nil { removed += 1 }
            }
        }
        return removed
    }

    // MARK: - Helpers

    /// Runs one file-system call, turning its failure into `FloeError.io` naming `path`.
    @inline(__always)
    private static func check<T>(_ path: String, _ call: () throws(FileSystemError) -> T) throws(FloeError) -> T {
        do { return try call() } catch { throw FloeError.io(path: path, reason: error.reason) }
    }

    private func fileSystemPath(_ path: String) -> String { root + "/" + path }

    private func directory(of fsPath: String) -> String {
        String(fsPath[..<fsPath.lastIndex(of: "/")!])
    }

    /// Makes a new name in `dir` durable: fsyncs `dir` and, the first time this
    /// instance does so for `dir`, each ancestor up to the root. Without the
    /// ancestors a directory made by a concurrent call or an earlier process
    /// (whose `mkdir` found it present, or that died before syncing its parent)
    /// could vanish in a power cut together with every object in it.
    private func makeNameDurable(inDirectory dir: String) throws {
        try fsyncTrusted(dir)
        if durableDirectories.withLock({ $0.contains(dir) }) { return }
        var current = dir
        while current.utf8.count > root.utf8.count {
            current = directory(of: current)
            let ancestor = current.isEmpty ? "/" : current
            try fsyncTrusted(ancestor)
        }
        // Only now: a concurrent writer into `dir` must not skip the ancestors before they are synced.
        durableDirectories.withLock { _ = $0.insert(dir) }
    }

    /// Fsyncs the directory `dir`, unless an fsync of it failed before in this
    /// instance: then (and when this one fails) it throws `FloeError.io`, and `dir`
    /// stays failed. A later success cannot be trusted to cover the changes the
    /// failed fsync was for (Linux reports a writeback error once).
    private func fsyncTrusted(_ dir: String) throws {
        if failedDirectories.withLock({ $0.contains(dir) }) {
            throw FloeError.io(path: dir, reason: "fsync: an earlier fsync of this directory failed; "
                + "names in it may not be durable and a later fsync cannot tell, so this store instance writes no more into it")
        }
        do {
            try fileSystem.fsyncDirectory(dir)
        } catch {
            if error.call == "fsync" { failedDirectories.withLock { _ = $0.insert(dir) } }
            throw FloeError.io(path: dir, reason: error.reason)
        }
    }

    /// Writes `bytes` to a fresh, fsynced temp file in the target's directory
    /// (creating the directory if needed) and returns the temp file's path.
    private func writeTemp(for path: String, _ bytes: [UInt8]) throws -> String {
        let target = fileSystemPath(path)
        let dir = directory(of: target)
        let name = target[target.index(after: target.lastIndex(of: "/")!)...]
        let temp = "\(dir)/.\(name).\(String(UInt64.random(in: .min ... .max), radix: 16))\(ObjectPath.tempSuffix)"
        let fd: Int32
        do {
            fd = try fileSystem.open(temp, .createExclusive)
        } catch where error.code == ENOENT {
            try Self.check(dir) { () throws(FileSystemError) in try fileSystem.makeDirectories(dir) }
            fd = try Self.check(temp) { () throws(FileSystemError) in try fileSystem.open(temp, .createExclusive) }
        } catch {
            throw FloeError.io(path: temp, reason: error.reason)
        }
        do {
            try fileSystem.writeAll(fd, bytes)
            try fileSystem.fsync(fd)
        } catch {
            try? fileSystem.close(fd)
            try? fileSystem.unlink(temp)
            throw FloeError.io(path: temp, reason: error.reason)
        }
        // close(2) can report deferred write errors (e.g. on network file systems).
        do {
            try fileSystem.close(fd)
        } catch {
            try? fileSystem.unlink(temp)
            throw FloeError.io(path: temp, reason: error.reason)
        }
        return temp
    }

    private func openForReading(_ path: String, _ target: String) throws -> FileDescriptorCache.OpenFile {
        try files.file(for: target) { fsPath in try openDescriptor(path, fsPath) }
    }

    /// Opens the regular file at `fsPath` (object `path`) for reading.
    private func openDescriptor(_ path: String, _ fsPath: String) throws -> Int32 {
        let fd: Int32
        do throws(FileSystemError) {
            fd = try fileSystem.open(fsPath, .read)
        } catch where error.code == ENOENT || error.code == ENOTDIR {
            throw FloeError.objectNotFound(path)
        } catch {
            throw FloeError.io(path: fsPath, reason: error.reason)
        }
        // open(2) succeeds on directories, which are not objects.
        if (try? fileSystem.status(fd))?.kind != .regularFile {
            try? fileSystem.close(fd)
            throw FloeError.objectNotFound(path)
        }
        return fd
    }

    private func fileSize(_ file: FileDescriptorCache.OpenFile, _ target: String) throws -> Int {
        try Self.check(target) { () throws(FileSystemError) in try fileSystem.status(file.fd).size }
    }

    private func read(_ file: FileDescriptorCache.OpenFile, _ target: String, offset: Int, count: Int) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = try Self.check(target) { () throws(FileSystemError) in
                try fileSystem.preadFully(file.fd, into: UnsafeMutableRawBufferPointer(buffer), offset: offset)
            }
        }
    }

    private func pastEnd(_ path: String, _ range: Range<Int>, size: Int) -> FloeError {
        .corruption(object: path, offset: range.lowerBound,
                    reason: "object is \(size) bytes, range \(range.lowerBound)..<\(range.upperBound) runs past its end")
    }

    /// The names in directory `fsPath`; none if it does not exist (or is not a directory).
    private func entries(_ fsPath: String) throws -> [String] {
        do {
            return try fileSystem.directoryEntries(fsPath)
        } catch where error.code == ENOENT || error.code == ENOTDIR {
            return []
        } catch {
            throw FloeError.io(path: fsPath, reason: error.reason)
        }
    }

    /// Lists one directory: matching regular files go to `objects`, child
    /// directories that may hold matches go to `subdirectories`.
    private func scan(directory relative: String, prefix: String,
                      objects: inout [ObjectInfo], subdirectories: inout [String]) throws {
        let fsPath = relative.isEmpty ? root : fileSystemPath(relative)
        for name in try entries(fsPath) {
            let path = relative.isEmpty ? name : relative + "/" + name
            let status: FileStatus
            do {
                status = try fileSystem.status(atPath: fsPath + "/" + name, followSymlinks: false)
            } catch where error.code == ENOENT {
                continue // deleted since readdir
            } catch {
                throw FloeError.io(path: fsPath + "/" + name, reason: error.reason)
            }
            if status.kind == .directory {
                let asPrefix = path + "/"
                if asPrefix.hasPrefix(prefix) || prefix.hasPrefix(asPrefix) { subdirectories.append(path) }
            } else if status.kind == .regularFile && !name.hasSuffix(ObjectPath.tempSuffix) && path.hasPrefix(prefix) {
                objects.append(ObjectInfo(path: path, size: status.size, modified: status.modified))
            }
        }
    }
}
