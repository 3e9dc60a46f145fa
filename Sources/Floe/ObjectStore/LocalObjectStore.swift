#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An object store in a local directory: object `a/b.sst` is the file
/// `<root>/a/b.sst`. The embedded default.
///
/// Guarantees:
/// - `put` and `createIfAbsent` write a temp file `.<name>.<random>.tmp` next to
///   the target, fsync it, then rename (put) or hard-link (createIfAbsent) it
///   into place and fsync the directory: a reader sees the whole object or
///   none, and the object is durable when the call returns.
/// - `createIfAbsent` is atomic across threads and processes (`link(2)` fails
///   with `EEXIST` for all but one caller).
/// - Temp files (`.tmp` suffix) are never listed; a crash may leave them behind.
///
/// Reads go through a bounded cache of open descriptors. Writes and deletes made
/// through this instance invalidate it; a file replaced or deleted by another
/// process may still be read through a cached descriptor until it is evicted.
///
/// Errors: invalid paths are `FloeError.invalidArgument`, missing objects
/// `FloeError.objectNotFound(path)`, reads past the end `FloeError.corruption`,
/// and every other failed system call `FloeError.io(path:reason:)` naming the
/// file system path and `"<syscall>: <strerror>"`.
///
/// The calls are blocking system calls made on the caller's task; they are
/// short for local disks, so no thread hop is taken.
public final class LocalObjectStore: ObjectStore {
    /// Absolute, canonical path of the store's root directory.
    public let root: String
    /// Open read descriptors (internal so tests can check the bound).
    let files: FileDescriptorCache
    /// `objectstore.*` failpoints: those of `FLOE_FAILPOINTS` unless a test passes its own.
    let failpoints: FailpointRegistry

    /// Default bound on cached read descriptors.
    static let defaultDescriptorCacheCapacity = 256

    /// Opens the store rooted at directory `root`.
    ///
    /// - Parameter create: create `root` (and missing ancestors) if it does not exist.
    /// - Throws: `FloeError.notAFloeStore(root)` if `root` is not a directory, or is
    ///   missing and `create` is false; `FloeError.invalidArgument` for an empty
    ///   path; `FloeError.io` if it cannot be inspected or created.
    ///   `FloeError.invalidArgument` also when `FLOE_FAILPOINTS` does not parse.
    public convenience init(root: String, create: Bool = true) throws {
        try self.init(root: root, create: create, descriptorCacheCapacity: Self.defaultDescriptorCacheCapacity)
    }

    /// As the public initializer; `failpoints` replaces the process registry (`FLOE_FAILPOINTS`).
    package init(root: String, create: Bool = true, descriptorCacheCapacity: Int = LocalObjectStore.defaultDescriptorCacheCapacity,
                 failpoints: FailpointRegistry? = nil) throws {
        self.failpoints = try failpoints ?? Failpoints.process()
        if root.isEmpty || root.utf8.contains(0) {
            throw FloeError.invalidArgument("store root must be a non-empty path without NUL: \(root.debugDescription)")
        }
        var st = stat()
        if stat(root, &st) != 0 {
            let code = errno
            guard code == ENOENT else { throw PosixIO.error("stat", root, code) }
            guard create else { throw FloeError.notAFloeStore(root) }
            try PosixIO.makeDirectories(root)
        } else if !PosixIO.isDirectory(st) {
            throw FloeError.notAFloeStore(root)
        }
        // Canonical absolute root: error messages name real paths and a later
        // chdir cannot redirect the store.
        guard let resolved = realpath(root, nil) else { throw PosixIO.error("realpath", root, errno) }
        defer { free(resolved) }
        self.root = String(cString: resolved)
        self.files = FileDescriptorCache(capacity: descriptorCacheCapacity)
    }

    // MARK: - Writes

    /// Writes (or atomically replaces) the object; durable on return.
    /// - Throws: `FloeError.invalidArgument` for a bad path, `FloeError.io` on failure
    ///   (the previous object, if any, is then unchanged).
    public func put(_ path: String, _ bytes: [UInt8]) async throws {
        try ObjectPath.validate(path)
        let target = fileSystemPath(path)
        let temp = try writeTemp(for: path, bytes)
        do { try failpoints.hit(.objectStoreBeforeRename) } catch {
            _ = unlink(temp)
            throw error
        }
        if rename(temp, target) != 0 {
            let code = errno
            _ = unlink(temp)
            throw PosixIO.error("rename", target, code)
        }
        files.invalidate(target)
        try failpoints.hit(.objectStoreBeforeDirFsync)
        try PosixIO.fsyncDirectory(directory(of: target))
    }

    /// Creates the object only if `path` is free; durable on return.
    /// - Returns: `true` if this call created it, `false` if an object already existed
    ///   (its content is untouched).
    /// - Throws: `FloeError.invalidArgument` for a bad path, `FloeError.io` on failure.
    public func createIfAbsent(_ path: String, _ bytes: [UInt8]) async throws -> Bool {
        try ObjectPath.validate(path)
        let target = fileSystemPath(path)
        let temp = try writeTemp(for: path, bytes)
        do { try failpoints.hit(.objectStoreBeforeRename) } catch {
            _ = unlink(temp)
            throw error
        }
        // link(2) never replaces an existing name, which makes the create atomic;
        // the temp was fsynced first, so the linked object is complete.
        let linked = link(temp, target) == 0
        let code = errno
        // A failed unlink only leaves a stray temp file, which listings skip.
        _ = unlink(temp)
        if !linked {
            if code == EEXIST { return false }
            throw PosixIO.error("link", target, code)
        }
        files.invalidate(target)
        try failpoints.hit(.objectStoreBeforeDirFsync)
        try PosixIO.fsyncDirectory(directory(of: target))
        return true
    }

    /// Deletes the object; a missing object is not an error.
    /// - Throws: `FloeError.invalidArgument` for a bad path, `FloeError.io` on failure.
    public func delete(_ path: String) async throws {
        try ObjectPath.validate(path)
        let target = fileSystemPath(path)
        if unlink(target) != 0 {
            let code = errno
            // ENOTDIR/EISDIR: some ancestor is a file or the path is a directory,
            // so no object of that name exists either.
            if code != ENOENT && code != ENOTDIR && code != EISDIR {
                throw PosixIO.error("unlink", target, code)
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
        let file = try openForReading(path, target)
        let size = try PosixIO.size(of: file.fd, path: target)
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
            let size = try PosixIO.size(of: file.fd, path: target)
            if range.upperBound > size { throw pastEnd(path, range, size: size) }
            return []
        }
        let bytes = try read(file, target, offset: range.lowerBound, count: range.count)
        if bytes.count < range.count {
            // Only a short read costs the extra fstat for the error message.
            throw pastEnd(path, range, size: try PosixIO.size(of: file.fd, path: target))
        }
        return bytes
    }

    /// Size in bytes of the object.
    /// - Throws: `FloeError.objectNotFound(path)` if missing, `FloeError.io` on failure.
    public func size(_ path: String) async throws -> Int {
        try ObjectPath.validate(path)
        let target = fileSystemPath(path)
        var st = stat()
        if stat(target, &st) != 0 {
            let code = errno
            if code == ENOENT || code == ENOTDIR { throw FloeError.objectNotFound(path) }
            throw PosixIO.error("stat", target, code)
        }
        guard PosixIO.isRegularFile(st) else { throw FloeError.objectNotFound(path) }
        return Int(st.st_size)
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

    // MARK: - Helpers

    private func fileSystemPath(_ path: String) -> String { root + "/" + path }

    private func directory(of fsPath: String) -> String {
        String(fsPath[..<fsPath.lastIndex(of: "/")!])
    }

    /// Writes `bytes` to a fresh, fsynced temp file in the target's directory
    /// (creating the directory if needed) and returns the temp file's path.
    private func writeTemp(for path: String, _ bytes: [UInt8]) throws -> String {
        let target = fileSystemPath(path)
        let dir = directory(of: target)
        let name = target[target.index(after: target.lastIndex(of: "/")!)...]
        let temp = "\(dir)/.\(name).\(String(UInt64.random(in: .min ... .max), radix: 16))\(ObjectPath.tempSuffix)"
        let flags = O_WRONLY | O_CREAT | O_EXCL
        var fd = PosixIO.open(temp, flags, 0o644)
        if fd < 0 && errno == ENOENT {
            try PosixIO.makeDirectories(dir)
            fd = PosixIO.open(temp, flags, 0o644)
        }
        if fd < 0 { throw PosixIO.error("open", temp, errno) }
        do {
            try PosixIO.writeAll(fd, bytes, path: temp)
            try PosixIO.fsync(fd, path: temp)
        } catch {
            _ = close(fd)
            _ = unlink(temp)
            throw error
        }
        // close(2) can report deferred write errors (e.g. on network file systems).
        if close(fd) != 0 {
            let code = errno
            _ = unlink(temp)
            throw PosixIO.error("close", temp, code)
        }
        return temp
    }

    private func openForReading(_ path: String, _ target: String) throws -> FileDescriptorCache.OpenFile {
        try files.file(for: target) { fsPath in
            let fd = PosixIO.open(fsPath, O_RDONLY)
            if fd < 0 {
                let code = errno
                if code == ENOENT || code == ENOTDIR { throw FloeError.objectNotFound(path) }
                throw PosixIO.error("open", fsPath, code)
            }
            // open(2) succeeds on directories, which are not objects.
            var st = stat()
            if fstat(fd, &st) != 0 || !PosixIO.isRegularFile(st) {
                _ = close(fd)
                throw FloeError.objectNotFound(path)
            }
            return fd
        }
    }

    private func read(_ file: FileDescriptorCache.OpenFile, _ target: String, offset: Int, count: Int) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = try PosixIO.preadFully(file.fd, into: UnsafeMutableRawBufferPointer(buffer), offset: offset, path: target)
        }
    }

    private func pastEnd(_ path: String, _ range: Range<Int>, size: Int) -> FloeError {
        .corruption(object: path, offset: range.lowerBound,
                    reason: "object is \(size) bytes, range \(range.lowerBound)..<\(range.upperBound) runs past its end")
    }

    /// Lists one directory: matching regular files go to `objects`, child
    /// directories that may hold matches go to `subdirectories`.
    private func scan(directory relative: String, prefix: String,
                      objects: inout [ObjectInfo], subdirectories: inout [String]) throws {
        let fsPath = relative.isEmpty ? root : fileSystemPath(relative)
        guard let dir = opendir(fsPath) else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { return }
            throw PosixIO.error("opendir", fsPath, code)
        }
        defer { _ = closedir(dir) }
        let dirFD = dirfd(dir)
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                let code = errno
                if code != 0 { throw PosixIO.error("readdir", fsPath, code) }
                return
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let path = relative.isEmpty ? name : relative + "/" + name
            var st = stat()
            if fstatat(dirFD, name, &st, AT_SYMLINK_NOFOLLOW) != 0 {
                let code = errno
                if code == ENOENT { continue } // deleted since readdir
                throw PosixIO.error("fstatat", fsPath + "/" + name, code)
            }
            if PosixIO.isDirectory(st) {
                let asPrefix = path + "/"
                if asPrefix.hasPrefix(prefix) || prefix.hasPrefix(asPrefix) { subdirectories.append(path) }
            } else if PosixIO.isRegularFile(st) && !name.hasSuffix(ObjectPath.tempSuffix) && path.hasPrefix(prefix) {
                objects.append(ObjectInfo(path: path, size: Int(st.st_size), modified: PosixIO.modifiedSeconds(st)))
            }
        }
    }
}
