#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An `ObjectStore` that keeps ranged reads of SST objects of a remote store
/// (S3) as checksummed entry files in a local directory bounded in bytes, so a
/// process, and the next process over the same directory, reads its hot blocks
/// and metas from local disk.
///
/// What is cached: only non-empty ranged `get`s of SST objects
/// (`ObjectPath.isSst`: `data/<id>.sst`). SSTs are immutable once written and an
/// SST id is never reused (docs/format.md §2.2, §2.5), so an entry keyed by
/// (namespace, path, offset, length) stays valid until the object is deleted.
/// Manifest records, checkpoints, leases and every other path, whole-object
/// `get`s, `size`, `list` and `createIfAbsent` go straight to the remote store.
///
/// Guarantees:
/// - never wrong data: an entry is used only if its size, magic, key and
///   XXH3-64 checksum all match (`DiskCacheEntry`); a damaged, truncated or
///   vanished entry is removed and the range read from the remote store, which
///   the caller cannot tell from a plain miss (only `statistics` counts it);
/// - never an error from the cache: a failure to write or remove an entry file is
///   counted (`writeFailures`) and the caller gets the remote store's answer;
///   errors the caller sees are the remote store's, unchanged;
/// - entry files are written to a temp file (`.<name>.<random>.tmp`) and renamed
///   into place, so a crash leaves a whole entry, no entry, or a temp file
///   (removed on open). They are not fsynced: a power cut can leave a damaged
///   entry, which the checksum catches;
/// - the entry files this instance knows total at most `capacityBytes` whenever
///   no call is in flight (a fill's file exists briefly before it is counted and
///   the eviction it causes runs); the least recently used go first. A hit sets
///   its file's modification time, and on open the directory is scanned and every
///   entry file is taken back (oldest modification time first, so the order of
///   use survives a restart, to the file system's clock granularity), evicting
///   down to the bound;
/// - `delete` (single or batch) and `put` of an SST through this store first drop
///   that object's entries; a read that raced with the delete does not put its
///   bytes back.
///
/// One process should use a cache directory at a time: another process's
/// entries are never wrong (they are checked like any other) but are not counted
/// against this instance's bound.
///
/// The file calls are blocking system calls made on the caller's task, as
/// `LocalObjectStore` makes them (short on a local disk).
public final class DiskCachedObjectStore: ObjectStore {
    /// The store the cache fronts.
    public let remote: any ObjectStore
    public let options: DiskCacheOptions
    /// Identifies the remote store in every entry (e.g. `s3://endpoint/bucket/prefix`),
    /// so one directory never serves one store's bytes for another's object.
    public let namespace: String
    /// Canonical absolute path of the cache directory.
    public let directory: String
    private let fileSystem: any FileSystem

    private struct State {
        var index = DiskCacheIndex()
        var statistics = DiskCacheStatistics()
        /// Bumped by every drop of an object's entries: a fill that started before
        /// one does not insert (its object may be gone).
        var drops: UInt64 = 0
    }
    private let state = Lock(State())

    /// Opens (creating if missing) the cache in `options.directory` in front of `remote`.
    /// Removes temp files of interrupted writes and takes back the entry files found.
    /// - Throws: `FloeError.invalidArgument` for invalid options or an empty
    ///   namespace; `FloeError.io` if the directory cannot be created or read.
    public convenience init(remote: any ObjectStore, namespace: String, options: DiskCacheOptions) throws {
        try self.init(remote: remote, namespace: namespace, options: options, fileSystem: PosixFileSystem())
    }

    package init(remote: any ObjectStore, namespace: String, options: DiskCacheOptions, fileSystem: any FileSystem) throws {
        try options.validate()
        guard !namespace.isEmpty, namespace.utf8.count <= Int(UInt16.max) else {
            throw FloeError.invalidArgument("disk cache namespace must be 1 to 65535 bytes")
        }
        self.remote = remote
        self.options = options
        self.namespace = namespace
        self.fileSystem = fileSystem
        do {
            try fileSystem.makeDirectories(options.directory)
            directory = try fileSystem.canonicalPath(options.directory)
        } catch {
            throw FloeError.io(path: options.directory, reason: error.reason)
        }
        try recover()
    }

    /// The counters since this instance was opened, with the current entry count and bytes.
    public var statistics: DiskCacheStatistics {
        state.withLock { s in
            var out = s.statistics
            out.entries = s.index.count
            out.bytes = s.index.totalBytes
            return out
        }
    }

    // MARK: - ObjectStore

    public func put(_ path: String, _ bytes: [UInt8]) async throws {
        guard ObjectPath.isSst(path) else {
            count(\.bypassed)
            return try await remote.put(path, bytes)
        }
        dropEntries(of: path)
        let generation = state.withLock { $0.drops }
        try await remote.put(path, bytes)
        if options.writeThrough { writeThrough(path, bytes, generation: generation) }
    }

    public func createIfAbsent(_ path: String, _ bytes: [UInt8]) async throws -> Bool {
        if ObjectPath.isSst(path) { dropEntries(of: path) } else { count(\.bypassed) }
        return try await remote.createIfAbsent(path, bytes)
    }

    public func get(_ path: String) async throws -> [UInt8] {
        count(\.bypassed)
        return try await remote.get(path)
    }

    public func get(_ path: String, range: Range<Int>) async throws -> [UInt8] {
        guard ObjectPath.isSst(path), !range.isEmpty, range.lowerBound >= 0 else {
            count(\.bypassed)
            return try await remote.get(path, range: range)
        }
        let entry = DiskCacheEntry(namespace: namespace, path: path, offset: range.lowerBound, length: range.count)
        guard entry.isEncodable, entry.fileSize <= options.capacityBytes else {
            count(\.bypassed)
            return try await remote.get(path, range: range)
        }
        let name = entry.fileName
        if state.withLock({ $0.index.touch(name) }) {
            if let payload = readEntry(entry, name) {
                count(\.hits)
                return payload
            }
        }
        let generation = state.withLock { s in
            s.statistics.misses += 1
            return s.drops
        }
        let bytes = try await remote.get(path, range: range)
        if bytes.count == range.count { insert(entry, name, bytes, generation: generation) }
        return bytes
    }

    public func size(_ path: String) async throws -> Int {
        try await remote.size(path)
    }

    public func delete(_ path: String) async throws {
        if ObjectPath.isSst(path) { dropEntries(of: path) }
        try await remote.delete(path)
    }

    /// Drops the entries of every SST among `paths`, then hands the whole list to
    /// the remote store as one batch.
    public func delete(_ paths: [String]) async throws {
        for path in paths where ObjectPath.isSst(path) { dropEntries(of: path) }
        try await remote.delete(paths)
    }

    public func list(prefix: String) async throws -> [ObjectInfo] {
        try await remote.list(prefix: prefix)
    }

    // MARK: - Entries

    private func count(_ counter: WritableKeyPath<DiskCacheStatistics, UInt64>) {
        state.withLock { $0.statistics[keyPath: counter] += 1 }
    }

    private func filePath(_ name: String) -> String { directory + "/" + name }

    /// The payload of the entry file `name` if it holds exactly `entry`; otherwise
    /// nil, with the file removed and forgotten (counted as corrupt unless it had vanished).
    private func readEntry(_ entry: DiskCacheEntry, _ name: String) -> [UInt8]? {
        let file: [UInt8]
        switch readFile(filePath(name), limit: entry.fileSize) {
        case .missing:
            state.withLock { _ = $0.index.remove(name) }
            return nil
        case .failed:
            file = []
        case let .read(bytes):
            file = bytes
        }
        if let payload = entry.payload(ofFile: file) { return payload }
        state.withLock { s in
            s.index.remove(name)
            s.statistics.corruptDropped += 1
        }
        try? fileSystem.unlink(filePath(name))
        return nil
    }

    private enum FileRead { case missing, failed, read([UInt8]) }

    /// The whole file at `fsPath`, or `.failed` if it is larger than `limit` or unreadable.
    private func readFile(_ fsPath: String, limit: Int) -> FileRead {
        let fd: Int32
        do { fd = try fileSystem.open(fsPath, .read) } catch {
            return error.code == ENOENT ? .missing : .failed
        }
        defer { try? fileSystem.close(fd) }
        guard let status = try? fileSystem.status(fd), status.kind == .regularFile, status.size <= limit else { return .failed }
        // One byte more than expected, so a file that grew since the fstat shows as the wrong size.
        let capacity = status.size + 1
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            do {
                initialized = try fileSystem.preadFully(fd, into: UnsafeMutableRawBufferPointer(buffer), offset: 0)
            } catch {
                failed = true
                initialized = 0
            }
        }
        if failed { return .failed }
        // The hit's use, kept in the file: a restart orders entries by modification time.
        try? fileSystem.touch(fd)
        return .read(bytes)
    }

    /// Writes `payload` as `entry` and adds it, unless an object's entries were
    /// dropped since `generation`; then evicts down to the bound.
    private func insert(_ entry: DiskCacheEntry, _ name: String, _ payload: [UInt8], generation: UInt64) {
        let file = entry.encode(payload: payload)
        guard writeAtomically(name, file) else {
            count(\.writeFailures)
            return
        }
        let (keep, victims) = state.withLock { s -> (Bool, [String]) in
            guard s.drops == generation else { return (false, []) }
            s.index.insert(name, objectHash: entry.objectHash, bytes: file.count)
            let victims = s.index.evict(toFit: options.capacityBytes)
            s.statistics.evictions += UInt64(victims.count)
            return (true, victims)
        }
        if !keep { try? fileSystem.unlink(filePath(name)) }
        for victim in victims { try? fileSystem.unlink(filePath(victim)) }
    }

    /// Writes `bytes` to a temp file and renames it to `name`. False on any failure (nothing left behind).
    private func writeAtomically(_ name: String, _ bytes: [UInt8]) -> Bool {
        let temp = filePath(".\(name).\(String(UInt64.random(in: .min ... .max), radix: 16))\(ObjectPath.tempSuffix)")
        let fd: Int32
        do { fd = try fileSystem.open(temp, .createExclusive) } catch { return false }
        do {
            try fileSystem.writeAll(fd, bytes)
            try fileSystem.close(fd)
        } catch {
            try? fileSystem.close(fd)
            try? fileSystem.unlink(temp)
            return false
        }
        do { try fileSystem.rename(temp, filePath(name)) } catch {
            try? fileSystem.unlink(temp)
            return false
        }
        return true
    }

    /// Forgets and removes every entry of object `path`; later fills that started before do not insert.
    private func dropEntries(of path: String) {
        let hash = DiskCacheEntry.objectHash(namespace: namespace, path: path)
        let names = state.withLock { s in
            s.drops &+= 1
            return s.index.removeAll(objectHash: hash)
        }
        for name in names { try? fileSystem.unlink(filePath(name)) }
    }

    /// Caches the ranges a reader of the SST `bytes` asks for: its footer, its
    /// tail from the filter and from the index, and each data block. An SST that
    /// does not parse is not cached (its reader will report it).
    private func writeThrough(_ path: String, _ bytes: [UInt8], generation: UInt64) {
        let size = bytes.count
        guard size >= SstFooter.size,
              let footer = try? SstFooter.decode(Array(bytes[(size - SstFooter.size)...]), object: path, fileSize: size) else { return }
        var ranges = [(size - SstFooter.size)..<size,
                      Int(footer.filterOffset)..<(size - SstFooter.size),
                      Int(footer.indexOffset)..<(size - SstFooter.size)]
        if let meta = try? SstMeta(id: 0, object: path, footer: footer, tail: Array(bytes[ranges[1]]), fileSize: size) {
            for i in 0..<meta.blockCount { ranges.append(meta.blockOffsets[i]..<(meta.blockOffsets[i] + meta.blockSizes[i])) }
        }
        for range in ranges where !range.isEmpty {
            let entry = DiskCacheEntry(namespace: namespace, path: path, offset: range.lowerBound, length: range.count)
            guard entry.isEncodable, entry.fileSize <= options.capacityBytes else { continue }
            insert(entry, entry.fileName, Array(bytes[range]), generation: generation)
        }
    }

    /// Removes temp files, takes back entry files oldest first, and evicts down to the bound.
    private func recover() throws {
        let names: [String]
        do { names = try fileSystem.directoryEntries(directory) } catch {
            throw FloeError.io(path: directory, reason: error.reason)
        }
        var found: [(name: String, hash: UInt64, size: Int, modified: Double)] = []
        for name in names {
            let fsPath = filePath(name)
            if name.hasPrefix("."), name.hasSuffix(ObjectPath.tempSuffix) {
                try? fileSystem.unlink(fsPath)
                continue
            }
            guard let hash = DiskCacheEntry.objectHash(ofFileName: name),
                  let status = try? fileSystem.status(atPath: fsPath, followSymlinks: false),
                  status.kind == .regularFile else { continue }
            // Smaller than any entry (header and checksum alone): a torn write.
            if status.size < DiskCacheEntry.fixedHeaderSize + DiskCacheEntry.checksumSize {
                try? fileSystem.unlink(fsPath)
                continue
            }
            found.append((name, hash, status.size, status.modified))
        }
        found.sort { ($0.modified, $0.name) < ($1.modified, $1.name) }
        let victims = state.withLock { s -> [String] in
            for f in found { s.index.insert(f.name, objectHash: f.hash, bytes: f.size) }
            let victims = s.index.evict(toFit: options.capacityBytes)
            s.statistics.evictions += UInt64(victims.count)
            return victims
        }
        for victim in victims { try? fileSystem.unlink(filePath(victim)) }
    }
}
