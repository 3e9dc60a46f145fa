import Floe
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An in-memory file system that remembers, next to what a process sees, what
/// is durable, so a test can cut the power and keep only what had reached the
/// disk. `LocalObjectStore` runs on it unchanged (see docs/power-loss.md).
///
/// The model (the weakest guarantees POSIX gives, which ext4, XFS and btrfs
/// may exceed but a program must not count on):
/// - Files are inodes with the content processes see and the *durable* content
///   as of the last `fsync` of a descriptor of the file. Writes since then are
///   lost at a power cut.
/// - Directories map names to inodes and keep the *durable* entries as of the
///   last `fsync` of a descriptor of that directory. Every create, `mkdir`,
///   `rename`, `link` and `unlink` in it since then is lost at a power cut. So
///   `fsync` of a file makes its data durable but not its name, and a new
///   directory survives only if its parent was synced after the `mkdir`.
/// - The survivor holds what is reachable from `/` through surviving entries;
///   every file has one content shared by all its names.
/// - Not modelled: symlinks, permissions, renaming directories (`EISDIR`),
///   `O_APPEND`/`pwrite`, short writes, failing `fsync`, and the disk itself
///   losing synced data.
///
/// Power: `cutPower(afterMutations:)` arms a cut at a future mutating call
/// (create, write, fsync, rename, link, unlink, mkdir; failing ones count too):
/// that call has no effect and fails. After the cut every call, reads included,
/// fails with `FileSystemError` (`EIO`, detail "power lost"): the process is
/// dead. `crash(seed:mode:)` cuts the power if it is still on and returns a new
/// file system holding what survived, all of it durable; it can be called again
/// on the same dead instance for other survivors of the same moment.
///
/// Determinism: `crash` draws only from `SplitMix64(seed)`, in inode and
/// operation order, so a seed and a call history give one survivor. Descriptor
/// numbers are reused in no particular pattern; directory listings are sorted.
package final class PowerLossFileSystem: FileSystem {
    /// What part of the not yet durable state survives a crash.
    package enum CrashMode: String, Sendable, CaseIterable {
        /// Nothing unsynced survives: the strictest reading of POSIX.
        case dropUnsynced
        /// The disk wrote back part of it before the power went: each unsynced
        /// directory operation survives on its own with one chance drawn per crash
        /// (a rename's two entries together), and each file keeps a random prefix,
        /// in write order, of the bytes written since its last fsync (the last
        /// write kept may be torn).
        case keepRandomUnsynced
    }

    private struct UnsyncedWrite {
        var offset: Int
        var bytes: [UInt8]
    }

    private struct Inode {
        var isDirectory: Bool
        var data: [UInt8] = []
        var durableData: [UInt8] = []
        var unsyncedWrites: [UnsyncedWrite] = []
        var entries: [String: Int] = [:]
        var durableEntries: [String: Int] = [:]
        var modified: Double
    }

    /// One change to one directory entry; `inode` nil removes the name.
    private struct EntryChange {
        var directory: Int
        var name: String
        var inode: Int?
    }

    private struct Descriptor {
        var inode: Int
        var mode: FileOpenMode
        var offset = 0
    }

    private struct State {
        /// Inode 0 is the root directory, which always exists.
        var inodes: [Inode]
        var descriptors: [Int32: Descriptor] = [:]
        var freeDescriptors: [Int32] = []
        var nextDescriptor: Int32 = 3
        /// Directory operations not yet made durable, oldest first; each is
        /// one call's changes (a rename has two).
        var unsynced: [[EntryChange]] = []
        var mutations = 0
        /// The number of the mutating call that finds the power cut.
        var powerCutAt: Int?
        var powerLost = false
    }

    private let state: Lock<State>

    /// An empty file system: only `/`, durable.
    package convenience init() {
        self.init(inodes: [Inode(isDirectory: true, modified: PosixFileSystem.wallClockSeconds())])
    }

    private init(inodes: [Inode]) {
        state = Lock(State(inodes: inodes))
    }

    // MARK: - Power

    /// Arms a power cut: `mutations` more mutating calls succeed, the one after
    /// them fails and the file system is dead from then on.
    /// - Precondition: `mutations >= 0`.
    package func cutPower(afterMutations mutations: Int) {
        precondition(mutations >= 0, "mutations must not be negative")
        state.withLock { $0.powerCutAt = $0.mutations + mutations + 1 }
    }

    /// Cuts the power now: every later call fails.
    package func cutPower() {
        state.withLock { $0.powerLost = true }
    }

    /// Whether the power was cut (by `cutPower`, an armed cut, or `crash`).
    package var isPowerLost: Bool { state.withLock { $0.powerLost } }

    /// Mutating calls made so far, failed ones included.
    package var mutationCount: Int { state.withLock { $0.mutations } }

    /// Directory operations (creates, renames, links, unlinks, mkdirs) whose
    /// directory was not synced since.
    package var unsyncedDirectoryOperations: Int { state.withLock { $0.unsynced.count } }

    /// Cuts the power if it is still on and returns what survived, as a fresh
    /// file system in which everything is durable and no descriptor is open.
    package func crash(seed: UInt64, mode: CrashMode) -> PowerLossFileSystem {
        let inodes = state.withLock { s -> [Inode] in
            s.powerLost = true
            return Self.survivor(of: s, seed: seed, mode: mode)
        }
        return PowerLossFileSystem(inodes: inodes)
    }

    private static func survivor(of s: State, seed: UInt64, mode: CrashMode) -> [Inode] {
        var rng = SplitMix64(seed: seed)
        var entries = s.inodes.map(\.durableEntries)
        var data = s.inodes.map(\.durableData)
        if mode == .keepRandomUnsynced {
            let keepChance = Double(rng.next() >> 11) * 0x1p-53
            for operation in s.unsynced where Double(rng.next() >> 11) * 0x1p-53 < keepChance {
                for c in operation { entries[c.directory][c.name] = c.inode }
            }
            for (i, inode) in s.inodes.enumerated() where !inode.unsyncedWrites.isEmpty {
                var budget = Int(rng.next() % UInt64(inode.unsyncedWrites.reduce(0) { $0 + $1.bytes.count } + 1))
                for w in inode.unsyncedWrites where budget > 0 {
                    let kept = w.bytes.prefix(budget)
                    budget -= kept.count
                    write(kept, at: w.offset, into: &data[i])
                }
            }
        }
        // Rebuild from the root: only what is reachable survives, and each
        // surviving inode (whatever number of names) is copied once.
        var result = [Inode(isDirectory: true, modified: s.inodes[0].modified)]
        var renumbered = [0: 0]
        var pending = [0]
        while let old = pending.popLast() {
            let new = renumbered[old]!
            for (name, child) in entries[old].sorted(by: { $0.key < $1.key }) {
                let copy: Int
                if let seen = renumbered[child] {
                    copy = seen
                } else {
                    copy = result.count
                    renumbered[child] = copy
                    let c = s.inodes[child]
                    result.append(Inode(isDirectory: c.isDirectory, data: data[child], durableData: data[child],
                                        modified: c.modified))
                    if c.isDirectory { pending.append(child) }
                }
                result[new].entries[name] = copy
                result[new].durableEntries[name] = copy
            }
        }
        return result
    }

    private static func write<C: Collection<UInt8>>(_ bytes: C, at offset: Int, into data: inout [UInt8]) {
        if data.count < offset { data.append(contentsOf: repeatElement(0, count: offset - data.count)) }
        let overlap = min(bytes.count, data.count - offset)
        data.replaceSubrange(offset..<(offset + overlap), with: bytes)
    }

    // MARK: - FileSystem

    package func open(_ path: String, _ mode: FileOpenMode) throws(FileSystemError) -> Int32 {
        try withLiveState("open", mutating: mode == .createExclusive) { s throws(FileSystemError) in
            let inode: Int
            switch mode {
            case .read:
                inode = try Self.lookup(s, path, "open")
            case .directory:
                inode = try Self.lookup(s, path, "open")
                guard s.inodes[inode].isDirectory else { throw FileSystemError("open", ENOTDIR) }
            case .createExclusive:
                let (dir, name) = try Self.parent(s, path, "open")
                guard s.inodes[dir].entries[name] == nil else { throw FileSystemError("open", EEXIST) }
                inode = s.inodes.count
                s.inodes.append(Inode(isDirectory: false, modified: PosixFileSystem.wallClockSeconds()))
                Self.change(&s, [EntryChange(directory: dir, name: name, inode: inode)])
            }
            let fd: Int32
            if let reused = s.freeDescriptors.popLast() {
                fd = reused
            } else {
                fd = s.nextDescriptor
                s.nextDescriptor += 1
            }
            s.descriptors[fd] = Descriptor(inode: inode, mode: mode)
            return fd
        }
    }

    package func close(_ fd: Int32) throws(FileSystemError) {
        try withLiveState("close", mutating: false) { s throws(FileSystemError) in
            guard s.descriptors.removeValue(forKey: fd) != nil else { throw FileSystemError("close", EBADF) }
            s.freeDescriptors.append(fd)
        }
    }

    package func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(FileSystemError) -> Int {
        try withLiveState("write", mutating: true) { s throws(FileSystemError) in
            guard let d = s.descriptors[fd], d.mode == .createExclusive else { throw FileSystemError("write", EBADF) }
            let copy = [UInt8](bytes)
            Self.write(copy, at: d.offset, into: &s.inodes[d.inode].data)
            s.inodes[d.inode].unsyncedWrites.append(UnsyncedWrite(offset: d.offset, bytes: copy))
            s.inodes[d.inode].modified = PosixFileSystem.wallClockSeconds()
            s.descriptors[fd]!.offset += copy.count
            return copy.count
        }
    }

    package func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int) throws(FileSystemError) -> Int {
        try withLiveState("pread", mutating: false) { s throws(FileSystemError) in
            guard let d = s.descriptors[fd], d.mode != .createExclusive else { throw FileSystemError("pread", EBADF) }
            guard offset >= 0 else { throw FileSystemError("pread", EINVAL) }
            guard !s.inodes[d.inode].isDirectory else { throw FileSystemError("pread", EISDIR) }
            return s.inodes[d.inode].data.withUnsafeBytes { raw in
                guard offset < raw.count else { return 0 }
                let n = min(buffer.count, raw.count - offset)
                buffer.baseAddress!.copyMemory(from: raw.baseAddress! + offset, byteCount: n)
                return n
            }
        }
    }

    package func fsync(_ fd: Int32) throws(FileSystemError) {
        try withLiveState("fsync", mutating: true) { s throws(FileSystemError) in
            guard let d = s.descriptors[fd] else { throw FileSystemError("fsync", EBADF) }
            if s.inodes[d.inode].isDirectory {
                s.inodes[d.inode].durableEntries = s.inodes[d.inode].entries
                for i in s.unsynced.indices { s.unsynced[i].removeAll { $0.directory == d.inode } }
                s.unsynced.removeAll { $0.isEmpty }
            } else {
                s.inodes[d.inode].durableData = s.inodes[d.inode].data
                s.inodes[d.inode].unsyncedWrites.removeAll()
            }
        }
    }

    package func status(_ fd: Int32) throws(FileSystemError) -> FileStatus {
        try withLiveState("fstat", mutating: false) { s throws(FileSystemError) in
            guard let d = s.descriptors[fd] else { throw FileSystemError("fstat", EBADF) }
            return Self.status(s.inodes[d.inode])
        }
    }

    package func status(atPath path: String, followSymlinks: Bool) throws(FileSystemError) -> FileStatus {
        let call = followSymlinks ? "stat" : "lstat"
        return try withLiveState(call, mutating: false) { s throws(FileSystemError) in
            Self.status(s.inodes[try Self.lookup(s, path, call)])
        }
    }

    package func rename(_ from: String, _ to: String) throws(FileSystemError) {
        try withLiveState("rename", mutating: true) { s throws(FileSystemError) in
            let (fromDir, fromName) = try Self.parent(s, from, "rename")
            let (toDir, toName) = try Self.parent(s, to, "rename")
            guard let inode = s.inodes[fromDir].entries[fromName] else { throw FileSystemError("rename", ENOENT) }
            guard !s.inodes[inode].isDirectory else { throw FileSystemError("rename", EISDIR) }
            if let existing = s.inodes[toDir].entries[toName] {
                guard !s.inodes[existing].isDirectory else { throw FileSystemError("rename", EISDIR) }
                // Two names of one file: POSIX makes this a successful no-op.
                if existing == inode { return }
            }
            Self.change(&s, [EntryChange(directory: toDir, name: toName, inode: inode),
                             EntryChange(directory: fromDir, name: fromName, inode: nil)])
        }
    }

    package func link(_ from: String, _ to: String) throws(FileSystemError) {
        try withLiveState("link", mutating: true) { s throws(FileSystemError) in
            let inode = try Self.lookup(s, from, "link")
            guard !s.inodes[inode].isDirectory else { throw FileSystemError("link", EPERM) }
            let (dir, name) = try Self.parent(s, to, "link")
            guard s.inodes[dir].entries[name] == nil else { throw FileSystemError("link", EEXIST) }
            Self.change(&s, [EntryChange(directory: dir, name: name, inode: inode)])
        }
    }

    package func unlink(_ path: String) throws(FileSystemError) {
        try withLiveState("unlink", mutating: true) { s throws(FileSystemError) in
            let (dir, name) = try Self.parent(s, path, "unlink")
            guard let inode = s.inodes[dir].entries[name] else { throw FileSystemError("unlink", ENOENT) }
            guard !s.inodes[inode].isDirectory else { throw FileSystemError("unlink", EISDIR) }
            Self.change(&s, [EntryChange(directory: dir, name: name, inode: nil)])
        }
    }

    package func makeDirectory(_ path: String) throws(FileSystemError) {
        try withLiveState("mkdir", mutating: true) { s throws(FileSystemError) in
            let (dir, name) = try Self.parent(s, path, "mkdir")
            guard s.inodes[dir].entries[name] == nil else { throw FileSystemError("mkdir", EEXIST) }
            let inode = s.inodes.count
            s.inodes.append(Inode(isDirectory: true, modified: PosixFileSystem.wallClockSeconds()))
            Self.change(&s, [EntryChange(directory: dir, name: name, inode: inode)])
        }
    }

    package func directoryEntries(_ path: String) throws(FileSystemError) -> [String] {
        try withLiveState("opendir", mutating: false) { s throws(FileSystemError) in
            let inode = try Self.lookup(s, path, "opendir")
            guard s.inodes[inode].isDirectory else { throw FileSystemError("opendir", ENOTDIR) }
            return s.inodes[inode].entries.keys.sorted()
        }
    }

    package func canonicalPath(_ path: String) throws(FileSystemError) -> String {
        try withLiveState("realpath", mutating: false) { s throws(FileSystemError) in
            _ = try Self.lookup(s, path, "realpath")
            return "/" + Self.components(path).joined(separator: "/")
        }
    }

    // MARK: - Internals

    /// Runs `body` on the state unless the power is off; a mutating call counts
    /// and may be the one an armed cut stops.
    private func withLiveState<T: Sendable>(_ call: String, mutating: Bool,
                                            _ body: (inout State) throws(FileSystemError) -> T) throws(FileSystemError) -> T {
        try state.withLock { s throws(FileSystemError) -> T in
            if s.powerLost { throw Self.powerLost(call) }
            if mutating {
                s.mutations += 1
                if let at = s.powerCutAt, s.mutations >= at {
                    s.powerLost = true
                    throw Self.powerLost(call)
                }
            }
            return try body(&s)
        }
    }

    private static func powerLost(_ call: String) -> FileSystemError {
        FileSystemError(call, EIO, detail: "power lost (simulated power cut)")
    }

    /// Applies one directory operation and remembers it as not yet durable.
    private static func change(_ s: inout State, _ changes: [EntryChange]) {
        for c in changes { s.inodes[c.directory].entries[c.name] = c.inode }
        s.unsynced.append(changes)
    }

    private static func status(_ inode: Inode) -> FileStatus {
        FileStatus(kind: inode.isDirectory ? .directory : .regularFile, size: inode.data.count, modified: inode.modified)
    }

    /// Path components with `.` and `..` resolved lexically (no symlinks exist);
    /// a relative path is taken from `/`.
    private static func components(_ path: String) -> [String] {
        var out: [String] = []
        for c in path.split(separator: "/") {
            if c == "." { continue }
            if c == ".." { _ = out.popLast(); continue }
            out.append(String(c))
        }
        return out
    }

    /// The inode `path` names: `ENOENT` if a name is missing, `ENOTDIR` if a
    /// file is used as a directory.
    private static func lookup(_ s: State, _ path: String, _ call: String) throws(FileSystemError) -> Int {
        var inode = 0
        for name in components(path) {
            guard s.inodes[inode].isDirectory else { throw FileSystemError(call, ENOTDIR) }
            guard let next = s.inodes[inode].entries[name] else { throw FileSystemError(call, ENOENT) }
            inode = next
        }
        return inode
    }

    /// The directory that holds `path`'s last name, and that name. `/` itself
    /// has none (`EEXIST` for `mkdir`, `EBUSY` otherwise).
    private static func parent(_ s: State, _ path: String, _ call: String) throws(FileSystemError) -> (Int, String) {
        var parts = components(path)
        guard let name = parts.popLast() else { throw FileSystemError(call, call == "mkdir" ? EEXIST : EBUSY) }
        let dir = try lookup(s, "/" + parts.joined(separator: "/"), call)
        guard s.inodes[dir].isDirectory else { throw FileSystemError(call, ENOTDIR) }
        return (dir, name)
    }
}
