import Synchronization
import Testing
@testable import Floe
import FloeTesting
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Power cuts below `LocalObjectStore`, on `PowerLossFileSystem`:
/// - the simulated file system loses exactly what POSIX lets a power cut lose;
/// - `put` / `createIfAbsent` survive every cut once they returned, are never
///   torn, and never yield two winners, while the same protocol without its
///   fsyncs fails the same checks;
/// - a `StateStore` with background compaction and GC recovers, after a cut at
///   any file-system call, at least its last acknowledged epoch and exactly the
///   state of the epoch it recovers.
///
/// Every randomized check names its seed. The object-store workloads run
/// concurrent writers, so a seed replays its file-system calls only up to
/// their interleaving.
@Suite struct PowerLossTests {
    // MARK: - The file system's semantics

    @Test func writesSinceTheLastFsyncAreLost() throws {
        let fs = try Self.fileSystem(directories: ["/d"])
        let fd = try fs.open("/d/f", .createExclusive)
        try fs.fsyncDirectory("/d")
        try fs.writeAll(fd, [1, 2, 3])
        #expect(Self.contents(fs.crash(seed: 1, mode: .dropUnsynced), "/d/f") == [], "name durable, data not")
        let fs2 = try Self.fileSystem(directories: ["/d"])
        let fd2 = try fs2.open("/d/f", .createExclusive)
        try fs2.fsyncDirectory("/d")
        try fs2.writeAll(fd2, [1, 2, 3])
        try fs2.fsync(fd2)
        try fs2.writeAll(fd2, [4, 5])
        #expect(Self.contents(fs2, "/d/f") == [1, 2, 3, 4, 5], "the live process sees every write")
        #expect(Self.contents(fs2.crash(seed: 1, mode: .dropUnsynced), "/d/f") == [1, 2, 3])
    }

    @Test func fsyncOfAFileDoesNotMakeItsNameDurable() throws {
        for syncDirectory in [false, true] {
            let fs = try Self.fileSystem(directories: ["/d"])
            try Self.create(fs, "/d/f", [7, 7], syncData: true)
            if syncDirectory { try fs.fsyncDirectory("/d") }
            let survivor = fs.crash(seed: 2, mode: .dropUnsynced)
            #expect(Self.contents(survivor, "/d/f") == (syncDirectory ? [7, 7] : nil), "directory synced: \(syncDirectory)")
            #expect(Self.names(survivor, "/d") == (syncDirectory ? ["f"] : []))
        }
    }

    @Test func renameLinkAndUnlinkAreLostUntilTheDirectoryIsSynced() throws {
        for syncDirectory in [false, true] {
            let fs = try Self.fileSystem(directories: ["/d"])
            try Self.create(fs, "/d/old", [1], syncData: true)
            try fs.fsyncDirectory("/d")
            try Self.create(fs, "/d/tmp", [2, 2], syncData: true)
            try fs.rename("/d/tmp", "/d/old")
            try fs.link("/d/old", "/d/hard")
            try Self.create(fs, "/d/gone", [3], syncData: true)
            try fs.unlink("/d/gone")
            #expect(Self.names(fs, "/d") == ["hard", "old"])
            if syncDirectory { try fs.fsyncDirectory("/d") }
            try fs.unlink("/d/hard") // never synced
            let survivor = fs.crash(seed: 3, mode: .dropUnsynced)
            if syncDirectory {
                #expect(Self.names(survivor, "/d") == ["hard", "old"])
                #expect(Self.contents(survivor, "/d/old") == [2, 2])
                #expect(Self.contents(survivor, "/d/hard") == [2, 2])
            } else {
                #expect(Self.names(survivor, "/d") == ["old"], "the rename, link and creates are lost")
                #expect(Self.contents(survivor, "/d/old") == [1])
            }
        }
    }

    @Test func aNewDirectorySurvivesOnlyIfItsParentWasSynced() throws {
        for syncParent in [false, true] {
            let fs = try Self.fileSystem(directories: [])
            try fs.makeDirectory("/a")
            try Self.create(fs, "/a/f", [9], syncData: true)
            try fs.fsyncDirectory("/a")
            if syncParent { try fs.fsyncDirectory("/") }
            let survivor = fs.crash(seed: 4, mode: .dropUnsynced)
            #expect(Self.names(survivor, "/") == (syncParent ? ["a"] : []))
            #expect(Self.contents(survivor, "/a/f") == (syncParent ? [9] : nil))
        }
    }

    /// `.keepRandomUnsynced` keeps any subset of the unsynced directory
    /// operations (a rename whole) and any prefix of a file's unsynced bytes,
    /// and over many seeds it does produce many of those states.
    @Test func keepRandomUnsyncedYieldsOnlyStatesTheDiskCouldHold() throws {
        let base: [UInt8] = Array(0..<10), more: [UInt8] = Array(100..<160)
        func build() throws -> PowerLossFileSystem {
            let fs = try Self.fileSystem(directories: ["/d"])
            let log = try fs.open("/d/log", .createExclusive)
            try fs.writeAll(log, base)
            try fs.fsync(log)
            try fs.fsyncDirectory("/d")
            try fs.writeAll(log, Array(more[..<30]))
            try fs.writeAll(log, Array(more[30...]))
            try Self.create(fs, "/d/n", [5, 5, 5], syncData: true) // operation 1
            try fs.rename("/d/n", "/d/m")                          // operation 2
            try fs.link("/d/log", "/d/l2")                         // operation 3
            return fs
        }
        // Every subset of the three operations, applied in order to {log}.
        var allowedNames: Set<[String]> = []
        for mask in 0..<8 {
            var names: Set<String> = ["log"]
            if mask & 1 != 0 { names.insert("n") }
            if mask & 2 != 0 { names.remove("n"); names.insert("m") }
            if mask & 4 != 0 { names.insert("l2") }
            allowedNames.insert(names.sorted())
        }
        let strict = try build().crash(seed: 0, mode: .dropUnsynced)
        #expect(Self.names(strict, "/d") == ["log"])
        #expect(Self.contents(strict, "/d/log") == base)

        var seenNames: Set<[String]> = [], seenLengths: Set<Int> = []
        for seed: UInt64 in 0..<300 {
            let survivor = try build().crash(seed: seed, mode: .keepRandomUnsynced)
            let names = Self.names(survivor, "/d") ?? []
            #expect(allowedNames.contains(names), "seed \(seed): names \(names)")
            let log = Self.contents(survivor, "/d/log") ?? []
            #expect(log.count >= base.count && log == base + more.prefix(log.count - base.count), "seed \(seed): log is not synced data plus a prefix of the rest")
            if names.contains("l2") { #expect(Self.contents(survivor, "/d/l2") == log, "seed \(seed): two names, one file") }
            for moved in ["n", "m"] where names.contains(moved) {
                #expect(Self.contents(survivor, "/d/\(moved)") == [5, 5, 5], "seed \(seed): synced data of \(moved)")
            }
            seenNames.insert(names)
            seenLengths.insert(log.count)
        }
        #expect(seenNames.count >= 6, "subsets seen: \(seenNames)")
        #expect(seenLengths.contains(base.count) && seenLengths.contains(base.count + more.count))
        #expect(seenLengths.contains { $0 != base.count && $0 != base.count + 30 && $0 != base.count + more.count },
                "some write kept torn: \(seenLengths.sorted())")
    }

    @Test func afterThePowerCutEveryCallFails() async throws {
        let fs = try Self.fileSystem(directories: ["/d"])
        let fd = try fs.open("/d/f", .createExclusive)
        try fs.fsyncDirectory("/d")
        fs.cutPower(afterMutations: 1)
        try fs.writeAll(fd, [1, 2])
        let lost = FileSystemError("fsync", EIO, detail: "power lost (simulated power cut)")
        #expect(throws: lost) { try fs.fsync(fd) }
        #expect(fs.isPowerLost)
        #expect(throws: FileSystemError("open", EIO, detail: lost.detail)) { _ = try fs.open("/d/f", .read) }
        #expect(throws: FileSystemError("fstat", EIO, detail: lost.detail)) { _ = try fs.status(fd) }
        #expect(throws: FileSystemError("opendir", EIO, detail: lost.detail)) { _ = try fs.directoryEntries("/d") }
        #expect(throws: FileSystemError("close", EIO, detail: lost.detail)) { try fs.close(fd) }
        // A new object store on the dead file system cannot even look at its root.
        #expect(throws: FloeError.io(path: "/d", reason: "stat: power lost (simulated power cut)")) {
            _ = try LocalObjectStore(root: "/d", fileSystem: fs)
        }
        // The fsync that found the power cut never happened.
        let survivor = fs.crash(seed: 5, mode: .dropUnsynced)
        #expect(Self.contents(survivor, "/d/f") == [])
        // A survivor is wholly durable: crashing it again changes nothing.
        #expect(Self.contents(survivor.crash(seed: 6, mode: .dropUnsynced), "/d/f") == [])
    }

    @Test func aDeadObjectStoreFailsWithTypedErrors() async throws {
        let fs = PowerLossFileSystem()
        let store = try LocalObjectStore(root: "/store", fileSystem: fs)
        try await store.put("data/a.sst", [1, 2, 3])
        fs.cutPower()
        let put = await capture { try await store.put("data/b.sst", [4]) }
        let get = await capture { try await store.get("data/a.sst") }
        #expect(put.failureValue.map { if case let .io(_, reason) = $0 { reason.contains("power lost") } else { false } } == true, "\(put)")
        #expect(get.failureValue.map { if case let .io(_, reason) = $0 { reason.contains("power lost") } else { false } } == true, "\(get)")
        let survivor = try LocalObjectStore(root: "/store", fileSystem: fs.crash(seed: 0, mode: .dropUnsynced))
        #expect(try await survivor.get("data/a.sst") == [1, 2, 3])
        #expect(try await survivor.list(prefix: "").map(\.path) == ["data/a.sst"])
    }

    // MARK: - LocalObjectStore's put protocol

    /// Fixed by this suite: a directory made by an earlier process that died
    /// before syncing its parent (or by a concurrent call) is synced before a
    /// put into it returns.
    @Test func putIntoADirectoryAnotherProcessMadeSyncsItsParent() async throws {
        let fs = try Self.fileSystem(directories: ["/store"])
        try fs.makeDirectory("/store/data") // the other process died before fsync("/store")
        let store = try LocalObjectStore(root: "/store", fileSystem: fs)
        try await store.put("data/x.sst", [1, 2, 3])
        let survivor = try LocalObjectStore(root: "/store", fileSystem: fs.crash(seed: 0, mode: .dropUnsynced))
        #expect(try await survivor.get("data/x.sst") == [1, 2, 3])
    }

    /// Fixed by this suite: `false` from `createIfAbsent` means the object is durable.
    @Test func createIfAbsentThatFindsAnUnsyncedObjectMakesItDurable() async throws {
        let fs = try Self.fileSystem(directories: ["/store", "/store/manifest"])
        try Self.create(fs, "/store/manifest/1.delta", [4, 2], syncData: true) // its creator died before the directory fsync
        let store = try LocalObjectStore(root: "/store", fileSystem: fs)
        #expect(try await store.createIfAbsent("manifest/1.delta", [9]) == false)
        let survivor = try LocalObjectStore(root: "/store", fileSystem: fs.crash(seed: 0, mode: .dropUnsynced))
        #expect(try await survivor.get("manifest/1.delta") == [4, 2])
        #expect(try await survivor.createIfAbsent("manifest/1.delta", [9]) == false, "no second winner")
    }

    static let protocolSeeds: [UInt64] = Array(0..<60)

    /// After a power cut at any file-system call, on every survivor (strict, and
    /// four random partial write-backs): an acknowledged object is whole, an
    /// unacknowledged one absent or whole, and a contested create has one winner.
    @Test(arguments: protocolSeeds)
    func acknowledgedObjectsSurviveACutAtAnyCall(seed: UInt64) async throws {
        let violations = await ProtocolRun(seed: seed).crashAndCheck { $0 }
        #expect(violations.isEmpty, "seed \(seed): \(violations.map(\.description))")
    }

    /// The checks have teeth: the same workloads through a file system that
    /// skips directory fsyncs lose acknowledged objects.
    @Test func withoutTheDirectoryFsyncAcknowledgedObjectsAreLost() async throws {
        var found: [ProtocolRun.Violation] = []
        for seed in Self.protocolSeeds.prefix(20) {
            found += await ProtocolRun(seed: seed).crashAndCheck { SkippingSyncFileSystem($0, skipDirectories: true, skipFiles: false) }
        }
        #expect(found.contains { $0.kind == .lostAcknowledged }, "\(found.map(\.description))")
    }

    /// ... and through one that skips file fsyncs, renamed objects come back torn.
    @Test func withoutTheFileFsyncObjectsAreTorn() async throws {
        var found: [ProtocolRun.Violation] = []
        for seed in Self.protocolSeeds.prefix(20) {
            found += await ProtocolRun(seed: seed).crashAndCheck { SkippingSyncFileSystem($0, skipDirectories: false, skipFiles: true) }
        }
        #expect(found.contains { $0.kind == .wrongContent }, "\(found.map(\.description))")
    }

    // MARK: - StateStore

    /// Fixed by this suite: a manifest commit whose directory fsync failed after
    /// the link is adopted as landed only once it is durable, so the checkpoint
    /// that returned survives the power cut.
    @Test func aCommitAdoptedAfterALostAcknowledgementIsDurable() async throws {
        let fs = PowerLossFileSystem()
        let points = FailpointRegistry([:], parent: nil)
        let objects = try LocalObjectStore(root: "/floe", failpoints: points, fileSystem: fs)
        let store = try await StateStore.open(objectStore: objects, options: Self.stepOptions())
        try store.put(TableID(1), key: [1], value: [10], epoch: 1)
        // The SST put passes; the manifest delta's directory fsync fails after the link.
        points.set(.objectStoreBeforeDirFsync, FailpointAction(.error, skip: 1, limit: 1))
        try await store.checkpoint(epoch: 1, metadata: ["offset": [1]])
        #expect(points.fired(.objectStoreBeforeDirFsync) == 1)
        let survivor = LocalObjectStoreOn(fs.crash(seed: 0, mode: .dropUnsynced))
        let recovered = try await StateStore.open(objectStore: try survivor.make(), options: Self.stepOptions())
        #expect(recovered.committedEpoch == 1)
        #expect(try await recovered.get(TableID(1), key: [1], epoch: 1) == [10])
    }

    /// The same for a compaction delta: its inputs are deleted (and the deletes
    /// made durable by a later upload) only after the delta is durable.
    @Test func aCompactionAdoptedAfterALostAcknowledgementIsDurable() async throws {
        let fs = PowerLossFileSystem()
        let points = FailpointRegistry([:], parent: nil)
        let objects = try LocalObjectStore(root: "/floe", failpoints: points, fileSystem: fs)
        let store = try await StateStore.open(objectStore: objects, options: Self.stepOptions())
        for e: Epoch in 1...2 {
            try store.put(TableID(1), key: [UInt8(e)], value: [UInt8(e)], epoch: e)
            try await store.checkpoint(epoch: e, metadata: [:])
        }
        // Tiny inputs make one output: its put passes, the delta's directory fsync fails.
        points.set(.objectStoreBeforeDirFsync, FailpointAction(.error, skip: 1, limit: 1))
        let result = try await store.compactOnce()
        #expect(result?.outputs.count == 1 && points.fired(.objectStoreBeforeDirFsync) == 1)
        #expect(try await store.collectGarbage(graceSeconds: 0).deletedObjects == 2)
        try store.put(TableID(1), key: [3], value: [3], epoch: 3)
        try store.seal(epoch: 3)
        _ = try await store.sync(epoch: 3) // fsyncs data/, so the deletes are durable
        let survivor = LocalObjectStoreOn(fs.crash(seed: 0, mode: .dropUnsynced))
        let recovered = try await StateStore.open(objectStore: try survivor.make(), options: Self.stepOptions())
        #expect(recovered.committedEpoch == 2)
        for k: UInt8 in 1...2 { #expect(try await recovered.get(TableID(1), key: [k], epoch: 2) == [k]) }
        #expect(try await StoreVerifier.verify(objectStore: try survivor.make()).problems.isEmpty)
    }

    /// `PowerLossRun` seeds, in chunks that run in parallel.
    static let storeSeedChunks: [UInt64] = [0, 10, 20, 30, 40]
    static let storeSeedsPerChunk = 10

    /// The workload of `PowerLossRun` (docs/power-loss.md): 50 runs of two
    /// crash-and-recover lives each, half strict and half random write-back.
    @Test(arguments: storeSeedChunks)
    func storesRecoverEveryAcknowledgedEpochExactly(firstSeed: UInt64) async throws {
        let summary = await PowerLossRun.iterations(seed: firstSeed, count: Self.storeSeedsPerChunk)
        #expect(summary.problems.isEmpty, "\(summary.problems.joined(separator: "\n"))")
        #expect(summary.lostEpochs == 0 && summary.partialEpochs == 0)
        #expect(summary.crashes == 2 * Self.storeSeedsPerChunk)
        // Coverage: most cuts hit the workload itself, with compaction and GC at work.
        #expect(summary.crashesMidWorkload * 2 > summary.crashes, "seeds \(firstSeed)...: \(summary)")
        #expect(summary.compactions > Self.storeSeedsPerChunk && summary.gcDeletions > Self.storeSeedsPerChunk,
                "seeds \(firstSeed)...: \(summary)")
    }

    /// The store-level checks have teeth too: when the dead processes' directory
    /// fsyncs do nothing, strict crashes lose acknowledged epochs.
    @Test func storeRunsCatchAStoreWhoseDirectoryFsyncsDoNothing() async throws {
        var lost = 0
        for seed: UInt64 in stride(from: 0, to: 12, by: 2) { // even seeds crash strictly
            var run = PowerLossRun(seed: seed)
            run.lives = 1
            run.fileSystemLayer = { SkippingSyncFileSystem($0, skipDirectories: true, skipFiles: false) }
            let o = await run.execute()
            lost += o.lostEpochs
        }
        #expect(lost > 0)
    }

    /// ... and when file fsyncs do nothing, recovered stores are torn or do not open.
    @Test func storeRunsCatchAStoreWhoseFileFsyncsDoNothing() async throws {
        var failed = 0, problems: [String] = []
        for seed: UInt64 in 0..<6 {
            var run = PowerLossRun(seed: seed)
            run.lives = 1
            run.fileSystemLayer = { SkippingSyncFileSystem($0, skipDirectories: false, skipFiles: true) }
            let o = await run.execute()
            failed += o.lostEpochs + o.partialEpochs
            problems += o.problems
        }
        #expect(failed > 0 && !problems.isEmpty)
    }

    // MARK: - Helpers

    /// Options for step-by-step store tests: no background work, compaction from 2 sub-levels.
    static func stepOptions() -> StoreOptions {
        var o = StoreOptions()
        o.compaction.background = false
        o.compaction.l0CompactionTrigger = 2
        return o
    }

    /// A file system holding `directories` (each synced into its parent).
    static func fileSystem(directories: [String]) throws -> PowerLossFileSystem {
        let fs = PowerLossFileSystem()
        for d in directories { try fs.makeDirectories(d) }
        return fs
    }

    /// Creates `path` holding `bytes`, fsynced if `syncData`; its name is not synced.
    static func create(_ fs: PowerLossFileSystem, _ path: String, _ bytes: [UInt8], syncData: Bool) throws {
        let fd = try fs.open(path, .createExclusive)
        try fs.writeAll(fd, bytes)
        if syncData { try fs.fsync(fd) }
        try fs.close(fd)
    }

    /// The file's content, or nil if `path` does not name a file.
    static func contents(_ fs: PowerLossFileSystem, _ path: String) -> [UInt8]? {
        guard let fd = try? fs.open(path, .read) else { return nil }
        defer { try? fs.close(fd) }
        guard let st = try? fs.status(fd), st.kind == .regularFile else { return nil }
        return try? [UInt8](unsafeUninitializedCapacity: st.size) { buffer, n in
            n = try fs.preadFully(fd, into: UnsafeMutableRawBufferPointer(buffer), offset: 0)
        }
    }

    /// The names in a directory, sorted, or nil if it does not exist.
    static func names(_ fs: PowerLossFileSystem, _ path: String) -> [String]? {
        (try? fs.directoryEntries(path))?.sorted()
    }
}

/// Opens a `LocalObjectStore` on a survivor at the root the store tests use.
private struct LocalObjectStoreOn {
    let fs: PowerLossFileSystem
    init(_ fs: PowerLossFileSystem) { self.fs = fs }
    func make() throws -> LocalObjectStore { try LocalObjectStore(root: "/floe", fileSystem: fs) }
}

/// A file system that passes every call through except some fsyncs, which it
/// reports as done: a protocol that leaves out those fsyncs, run on the real store.
final class SkippingSyncFileSystem: FileSystem {
    let inner: any FileSystem
    let skipDirectories: Bool
    let skipFiles: Bool
    /// Descriptors opened as directories (protected by the lock; `Lock`, not a bare `Mutex`, so ThreadSanitizer sees its hand-offs).
    private let directories = Lock<Set<Int32>>([])

    init(_ inner: any FileSystem, skipDirectories: Bool, skipFiles: Bool) {
        self.inner = inner
        self.skipDirectories = skipDirectories
        self.skipFiles = skipFiles
    }

    func open(_ path: String, _ mode: FileOpenMode) throws(FileSystemError) -> Int32 {
        let fd = try inner.open(path, mode)
        directories.withLock { if mode == .directory { $0.insert(fd) } else { $0.remove(fd) } }
        return fd
    }
    func close(_ fd: Int32) throws(FileSystemError) { try inner.close(fd) }
    func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(FileSystemError) -> Int { try inner.write(fd, bytes) }
    func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int) throws(FileSystemError) -> Int {
        try inner.pread(fd, into: buffer, offset: offset)
    }
    func fsync(_ fd: Int32) throws(FileSystemError) {
        let isDirectory = directories.withLock { $0.contains(fd) }
        if isDirectory ? skipDirectories : skipFiles { return }
        try inner.fsync(fd)
    }
    func status(_ fd: Int32) throws(FileSystemError) -> FileStatus { try inner.status(fd) }
    func status(atPath path: String, followSymlinks: Bool) throws(FileSystemError) -> FileStatus {
        try inner.status(atPath: path, followSymlinks: followSymlinks)
    }
    func rename(_ from: String, _ to: String) throws(FileSystemError) { try inner.rename(from, to) }
    func link(_ from: String, _ to: String) throws(FileSystemError) { try inner.link(from, to) }
    func unlink(_ path: String) throws(FileSystemError) { try inner.unlink(path) }
    func makeDirectory(_ path: String) throws(FileSystemError) { try inner.makeDirectory(path) }
    func directoryEntries(_ path: String) throws(FileSystemError) -> [String] { try inner.directoryEntries(path) }
    func canonicalPath(_ path: String) throws(FileSystemError) -> String { try inner.canonicalPath(path) }
}

/// One seeded object-store workload cut by a power loss, then checked on several survivors.
///
/// Writer tasks (1 to 3) each own a few paths in shared, nested and fresh
/// directories and run puts, creates and deletes on them in order; three more
/// tasks race `createIfAbsent` on one path. Every task stops at its first error
/// (the power cut). The cut falls at a random mutating call of the run.
struct ProtocolRun {
    let seed: UInt64
    static let root = "/store"
    static let racePath = "manifest/race.delta"

    enum Operation {
        case put([UInt8]), create([UInt8]), delete
    }

    /// One call on a path: `acknowledged` is false when it threw (the cut).
    struct Call {
        var operation: Operation
        var acknowledged: Bool
        var created: Bool?
    }

    struct Violation: CustomStringConvertible {
        enum Kind { case lostAcknowledged, wrongContent, twoWinners, unexpectedObject, readFailed }
        var kind: Kind
        var description: String
    }

    /// What one workload did: the calls per path, and the race's contenders.
    struct Record {
        var calls: [String: [Call]] = [:]
        var race: [(bytes: [UInt8], won: Bool?)] = []
    }

    /// Runs the workload through `layer` over a fresh file system with the power
    /// cut at a random call, and checks the strict survivor and four random ones.
    func crashAndCheck(_ layer: @escaping @Sendable (PowerLossFileSystem) -> any FileSystem) async -> [Violation] {
        var rng = SplitMix64(seed: seed ^ 0xC0FF_EE00)
        // A dry run measures how many mutating calls the workload makes.
        let dry = PowerLossFileSystem()
        _ = await run(on: dry, layer: layer)
        let fs = PowerLossFileSystem()
        fs.cutPower(afterMutations: Int(rng.next() % UInt64(dry.mutationCount + 5)))
        let record = await run(on: fs, layer: layer)
        fs.cutPower()
        var violations: [Violation] = []
        for (i, mode) in [PowerLossFileSystem.CrashMode.dropUnsynced, .keepRandomUnsynced, .keepRandomUnsynced,
                          .keepRandomUnsynced, .keepRandomUnsynced].enumerated() {
            let survivor = fs.crash(seed: rng.next(), mode: mode)
            violations += await check(survivor, record, context: "seed \(seed) survivor \(i) (\(mode.rawValue))")
        }
        return violations
    }

    private func run(on fs: PowerLossFileSystem, layer: @escaping @Sendable (PowerLossFileSystem) -> any FileSystem) async -> Record {
        guard let store = try? LocalObjectStore(root: Self.root, fileSystem: layer(fs)) else { return Record() }
        let writers = 1 + Int(seed % 3)
        return await withTaskGroup(of: Record.self) { group in
            for w in 0..<writers {
                group.addTask {
                    var rng = SplitMix64(seed: seed &* 31 &+ UInt64(w))
                    let paths = ["data/\(w)-a.sst", "data/\(w)-b.sst", "nested/\(w)/deep/c", "fresh\(w)-\(seed % 5)/d"]
                    var record = Record()
                    for _ in 0..<14 {
                        let path = paths[Int(rng.next() % UInt64(paths.count))]
                        let bytes = (0..<Int(rng.next() % 3000)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                        let call: Call
                        switch rng.next() % 4 {
                        case 0, 1:
                            let ok = (try? await store.put(path, bytes)) != nil
                            call = Call(operation: .put(bytes), acknowledged: ok)
                        case 2:
                            let created = try? await store.createIfAbsent(path, bytes)
                            call = Call(operation: .create(bytes), acknowledged: created != nil, created: created)
                        default:
                            let ok = (try? await store.delete(path)) != nil
                            call = Call(operation: .delete, acknowledged: ok)
                        }
                        record.calls[path, default: []].append(call)
                        if !call.acknowledged { break }
                    }
                    return record
                }
            }
            for r in 0..<3 {
                group.addTask {
                    let bytes = [UInt8](repeating: UInt8(r + 1), count: 100 + r)
                    var record = Record()
                    record.race = [(bytes, try? await store.createIfAbsent(Self.racePath, bytes))]
                    return record
                }
            }
            var all = Record()
            for await r in group {
                all.calls.merge(r.calls) { a, _ in a }
                all.race += r.race
            }
            return all
        }
    }

    /// The contents `calls` (one path's, in order) allow after a cut: an
    /// acknowledged write pins it, an acknowledged delete may be undone (deletes
    /// are not synced), a call cut short may or may not have landed.
    static func allowed(_ calls: [Call]) -> [[UInt8]?] {
        var possible: [[UInt8]?] = [nil]
        var current: [UInt8]?
        for c in calls {
            switch (c.operation, c.acknowledged) {
            case let (.put(b), true):
                possible = [b]
                current = b
            case let (.create(b), true):
                if c.created == true { current = b }
                possible = [current] // `false` found an object, durable now
            case (.delete, true):
                possible.append(nil)
                current = nil
            case let (.put(b), false), let (.create(b), false):
                possible.append(b)
            case (.delete, false):
                possible.append(nil)
            }
        }
        return possible
    }

    private func check(_ survivor: PowerLossFileSystem, _ record: Record, context: String) async -> [Violation] {
        var out: [Violation] = []
        func violation(_ kind: Violation.Kind, _ text: String) { out.append(Violation(kind: kind, description: "\(context): \(text)")) }
        guard let store = try? LocalObjectStore(root: Self.root, fileSystem: survivor) else {
            violation(.readFailed, "the store root did not survive")
            return out
        }
        for (path, calls) in record.calls.sorted(by: { $0.key < $1.key }) {
            let got: [UInt8]?
            switch await capture({ try await store.get(path) }) {
            case let .success(b): got = b
            case .failure(.objectNotFound): got = nil
            case let .failure(e):
                violation(.readFailed, "\(path): \(e)")
                continue
            }
            let allowed = Self.allowed(calls)
            if allowed.contains(where: { $0 == got }) { continue }
            if let got {
                if allowed.allSatisfy({ $0 == nil }) {
                    violation(.unexpectedObject, "\(path) is present after \(calls.count) calls that leave it absent")
                } else {
                    violation(.wrongContent, "\(path) holds \(got.count) bytes matching none of the \(allowed.count) allowed contents")
                }
            } else {
                violation(.lostAcknowledged, "\(path) is missing after \(calls.count) calls, the last acknowledged one a write")
            }
        }
        let winners = record.race.filter { $0.won == true }
        if winners.count > 1 { violation(.twoWinners, "\(winners.count) createIfAbsent calls won \(Self.racePath)") }
        let raced = await capture { try await store.get(Self.racePath) }
        if let winner = winners.first {
            if raced.successValue != winner.bytes { violation(.lostAcknowledged, "the acknowledged winner of \(Self.racePath) is gone or changed") }
            if (try? await store.createIfAbsent(Self.racePath, [0xEE])) != false {
                violation(.twoWinners, "a new process won \(Self.racePath) again")
            }
        } else if case let .success(b) = raced, !record.race.contains(where: { $0.won == nil && $0.bytes == b }) {
            violation(.wrongContent, "\(Self.racePath) holds bytes no unacknowledged contender wrote")
        } else if record.race.contains(where: { $0.won == false }), raced.successValue == nil {
            // A loser returned, so the object it found was durable by then.
            violation(.lostAcknowledged, "a contender lost \(Self.racePath) to an object that is gone")
        }
        let expectedPaths = Set(record.calls.keys).union([Self.racePath])
        for o in (try? await store.list(prefix: "")) ?? [] where !expectedPaths.contains(o.path) {
            violation(.unexpectedObject, "listed \(o.path), which no call wrote")
        }
        return out
    }
}

private extension Result {
    var successValue: Success? {
        if case let .success(v) = self { return v }
        return nil
    }
}
