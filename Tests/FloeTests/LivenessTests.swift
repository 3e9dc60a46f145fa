import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Floe

/// The store keeps its liveness promises: a fenced writer's commit fails at
/// once instead of waiting on an L0 that can no longer shrink, a failing
/// compaction lane stays visible to a stalled commit, "wait for budget, then
/// retry" waits for pipelined and stalled commits, reads made without (or
/// beyond) a snapshot's pin survive a zero-grace GC, and edge inputs (a 2 GiB
/// value, `Epoch.max`, a failed directory fsync) give typed errors.
@Suite(.timeLimit(.minutes(1))) struct LivenessTests {
    static func key(_ i: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(i).bigEndian) { Array($0) } }
    static func value(_ epoch: Int, _ i: Int) -> [UInt8] { Array("value \(i) of epoch \(epoch) ".utf8) + [UInt8](repeating: UInt8(epoch), count: 20) }

    /// `body` run in a task: its outcome, or nil if it has not ended after `seconds`
    /// (the task is then cancelled, so a hung call does not outlive the test).
    static func outcome<T: Sendable>(within seconds: Double, _ body: @escaping @Sendable () async throws -> T) async -> Result<T, FloeError>? {
        let result = Mutex<Result<T, FloeError>?>(nil)
        let task = Task {
            let r: Result<T, FloeError>
            do { r = .success(try await body()) } catch let e as FloeError { r = .failure(e) } catch { r = .failure(.invalidArgument("\(error)")) }
            result.withLock { $0 = r }
        }
        let deadline = ContinuousClock.now + .seconds(seconds)
        // Checked after the last sleep too, so a stall of the whole process past the
        // deadline does not report a call that did return as hung.
        while true {
            if let r = result.withLock({ $0 }) { return r }
            if ContinuousClock.now >= deadline { break }
            try? await Task.sleep(for: .milliseconds(2))
        }
        task.cancel()
        return nil
    }

    static func isFenced(_ r: Result<some Any, FloeError>?) -> Bool {
        if case .failure(.fenced)? = r { return true }
        return false
    }

    /// A memory object store whose SST reads (paths with `data/`) can be held:
    /// `hold(all: true)` holds every such read, `hold(all: false)` only the next
    /// one, until `release()`. `held` counts the reads that were held.
    final class GatedStore: ObjectStore {
        enum Mode { case none, next, all }
        let inner = MemoryObjectStore()
        private let gate = Mutex<(mode: Mode, released: Bool, held: Int)>((.none, true, 0))

        func hold(all: Bool) { gate.withLock { $0 = (all ? .all : .next, false, $0.held) } }
        func release() { gate.withLock { $0.mode = .none; $0.released = true } }
        var held: Int { gate.withLock { $0.held } }

        private func wait(_ path: String) async throws {
            guard path.contains("data/") else { return }
            let hold = gate.withLock { g -> Bool in
                switch g.mode {
                case .none: return false
                case .next: g.mode = .none
                case .all: break
                }
                g.held += 1
                return true
            }
            guard hold else { return }
            while !gate.withLock({ $0.released }) { try await Task.sleep(for: .milliseconds(1)) }
        }

        func put(_ path: String, _ b: [UInt8]) async throws { try await inner.put(path, b) }
        func createIfAbsent(_ path: String, _ b: [UInt8]) async throws -> Bool { try await inner.createIfAbsent(path, b) }
        func get(_ path: String) async throws -> [UInt8] {
            try await wait(path)
            return try await inner.get(path)
        }
        func get(_ path: String, range: Range<Int>) async throws -> [UInt8] {
            try await wait(path)
            return try await inner.get(path, range: range)
        }
        func size(_ path: String) async throws -> Int { try await inner.size(path) }
        func delete(_ path: String) async throws { try await inner.delete(path) }
        func delete(_ paths: [String]) async throws { try await inner.delete(paths) }
        func list(prefix: String) async throws -> [ObjectInfo] { try await inner.list(prefix: prefix) }
    }

    // MARK: 2. a fenced writer stalled on L0

    /// Writer A syncs epoch 2; writer B opens (fencing A) and commits 20 sub-levels;
    /// A's GC pass installs B's version, L0 past A's stop. A's commit must throw
    /// `fenced` at once: its compaction lanes stopped when it was fenced, so waiting
    /// for L0 room would wait forever.
    @Test func aFencedWritersCommitStalledOnL0ThrowsFencedAtOnce() async throws {
        let mem = MemoryObjectStore()
        var o = StoreOptions()
        o.compaction.l0CompactionTrigger = 4
        o.compaction.l0SlowdownSubLevels = 4
        o.compaction.l0StopSubLevels = 4
        let a = try await StateStore.open(objectStore: mem, options: o)
        try a.put(TableID(1), key: [1], value: [1], epoch: 2)
        try a.seal(epoch: 2)
        let synced = try await a.sync(epoch: 2)

        var ob = o
        ob.compaction.background = false
        let b = try await StateStore.open(objectStore: mem, options: ob)
        for e in 1...20 {
            try b.put(TableID(1), key: [UInt8(e)], value: [2], epoch: Epoch(e))
            try await b.checkpoint(epoch: Epoch(e), metadata: [:])
        }
        #expect(b.statistics.l0SubLevels == 20)

        let gc = await capture { try await a.collectGarbage() }
        #expect(Self.isFenced(gc), "A's GC pass: \(gc)")
        #expect(a.isFenced)
        #expect(a.statistics.l0SubLevels == 20, "A installed B's version")

        // At once: no wait at all. The deadline only bounds a hang (generous, for a loaded machine).
        let commit = await Self.outcome(within: 15) { try await a.commit(epoch: 2, synced, metadata: [:]) }
        #expect(commit != nil, "the fenced writer's commit neither returned nor threw within 15 s")
        #expect(Self.isFenced(commit), "\(String(describing: commit))")
        #expect(b.committedEpoch == 20)
        try await a.close()
        try await b.close()
    }

    // MARK: 2b. one lane's success does not hide another lane's failure

    /// Lane 0 fails every compaction (an injected upload error) while the intra-L0
    /// lane finds nothing to do, succeeding every 5 ms. The failure must stay
    /// visible (statistics, and to a commit stalled on L0) until lane 0 succeeds.
    @Test func anIdleLaneDoesNotClearAFailingLanesError() async throws {
        var o = StoreOptions()
        o.compaction.maxConcurrentTasks = 1
        o.compaction.intraL0Lane = true
        o.compaction.l0CompactionTrigger = 2
        o.compaction.l0SlowdownSubLevels = 4
        o.compaction.l0StopSubLevels = 4
        // A base file spanning every key the test writes, so no compaction can be a
        // trivial move (which uploads nothing and so would pass the failpoint): the
        // idle policy moves a lone L0 sub-level down when commits pause for a second,
        // which a loaded machine makes happen between two checkpoints.
        let objects = MemoryObjectStore()
        do {
            var plain = o
            plain.compaction.background = false
            let seed = try await StateStore.open(objectStore: objects, options: plain)
            for k in [0, 100] { try seed.put(TableID(1), key: Self.key(k), value: Self.value(1, k), epoch: 1) }
            try await seed.checkpoint(epoch: 1, metadata: [:])
            try await seed.compactUntilQuiescent()
            #expect(seed.statistics.l0SubLevels == 0)
            try await seed.close()
        }
        o.failpoints = [.compactionBeforeUpload: .error]
        let store = try await StateStore.open(objectStore: objects, options: o)
        for e in 2...5 {
            try store.put(TableID(1), key: Self.key(e), value: Self.value(e, e), epoch: Epoch(e))
            try await store.checkpoint(epoch: Epoch(e), metadata: [:])
        }
        #expect(store.statistics.l0SubLevels == 4)
        // Lane 0 fails; its retries back off (2, 4, ... ms): 300 ms later they are over 100 ms apart.
        let deadline = ContinuousClock.now + .seconds(10)
        while store.statistics.compactionError == nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
        try await Task.sleep(for: .milliseconds(300))
        var seen: [String?] = []
        for _ in 0..<20 {
            seen.append(store.statistics.compactionError)
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(seen.allSatisfy { $0?.contains("failpoint:compaction.before_upload") == true }, "\(seen)")

        try store.put(TableID(1), key: Self.key(6), value: Self.value(6, 6), epoch: 6)
        let commit = await Self.outcome(within: 15) { try await store.checkpoint(epoch: 6, metadata: [:]) }
        guard case let .failure(.compactionFailed(why))? = commit else {
            Issue.record("a commit stalled on L0 behind a failing lane: \(String(describing: commit))")
            try await store.close()
            return
        }
        #expect(why.contains("failpoint:compaction.before_upload"))
        #expect(store.committedEpoch == 5)
        try await store.close()
    }

    // MARK: 3. waiting for budget while pipelined or stalled work will free it

    /// The pipeline's sync and commit tasks start late (as on a busy scheduler):
    /// `waitForWriteBudget` right after `endEpoch` must wait for them, not throw
    /// "nothing can free it"; the refused write is then accepted.
    @Test func waitForWriteBudgetWaitsForPipelinedEpochs() async throws {
        let store = try await StateStore.open(objectStore: MemoryObjectStore(), options: MemtableBudgetTests.options())
        var pipeline = try CheckpointPipeline(store: store, depth: 2)
        pipeline.taskStartHook = { _ in try? await Task.sleep(for: .milliseconds(2)) }
        var model: [ModelKey: [UInt8]] = [:]
        for round in 0..<20 {
            let (accepted, refused, error) = MemtableBudgetTests.fill(store, table: 1, epoch: pipeline.epoch, from: round * 100_000)
            #expect(MemtableBudgetTests.isBudgetError(error), "round \(round)")
            model.merge(accepted) { _, new in new }
            try await pipeline.endEpoch()
            let waited = await capture { try await store.waitForWriteBudget() }
            #expect(waited.failureValue == nil, "round \(round): waiting for a pipelined commit threw \(waited)")
            guard waited.failureValue == nil else { break }
            try store.put(TableID(1), key: refused.key, value: [7], epoch: pipeline.epoch)
            model[refused] = [7]
        }
        let last = pipeline.epoch
        try await pipeline.endEpoch()
        _ = try await pipeline.drain()
        #expect(store.committedEpoch == last)
        #expect(try await MemtableBudgetTests.scanAll(store, table: 1, epoch: last) == expectedRows(model, table: 1, from: nil, to: nil))
        try await store.close()
    }

    /// A commit waiting for L0 room (compaction cannot read its inputs until
    /// released) is about to free the memory: the wait must last until it did.
    @Test func waitForWriteBudgetWaitsForACommitStalledOnL0() async throws {
        let gated = GatedStore()
        var o = MemtableBudgetTests.options()
        o.blockCacheBytes = 0
        o.compaction.intraL0Lane = false
        o.compaction.l0CompactionTrigger = 2
        o.compaction.l0SlowdownSubLevels = 2
        o.compaction.l0StopSubLevels = 2
        let store = try await StateStore.open(objectStore: gated, options: o)
        // A base-level file spanning keys 1...3 first: an L0 file inside its range cannot be
        // moved down without reading it, so the gate below holds every L0 compaction. (With
        // an empty base, a sub-level alone in L0 may be moved down unread before the next
        // commit, and the commit under test would find room.)
        try store.put(TableID(2), key: Self.key(1), value: Self.value(1, 1), epoch: 1)
        try store.put(TableID(2), key: Self.key(3), value: Self.value(1, 3), epoch: 1)
        try await store.checkpoint(epoch: 1, metadata: [:])
        _ = try await store.compactUntilQuiescent()
        let moved = ContinuousClock.now + .seconds(5)
        while !store.currentVersion.l0.isEmpty && ContinuousClock.now < moved { try await Task.sleep(for: .milliseconds(1)) }
        #expect(store.currentVersion.l0.isEmpty, "epoch 1 went below L0")
        gated.hold(all: true)
        for e in 2...3 {
            try store.put(TableID(2), key: Self.key(2), value: Self.value(e, 2), epoch: Epoch(e))
            try await store.checkpoint(epoch: Epoch(e), metadata: [:])
        }
        let (accepted, refused, error) = MemtableBudgetTests.fill(store, table: 1, epoch: 4)
        #expect(MemtableBudgetTests.isBudgetError(error))
        try store.seal(epoch: 4)
        let r = try await store.sync(epoch: 4)
        let committer = Task { try await store.commit(epoch: 4, r, metadata: [:]) }
        // The sync is done: once something is in flight, it is the commit, waiting for L0 room.
        let deadline = ContinuousClock.now + .seconds(3)
        while store.state.withLock({ $0.inFlight }) == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
        #expect(store.committedEpoch == 3, "the commit waits for L0 room")
        // Compaction may go on a moment after the wait began (it checks before its first sleep).
        let opener = Task {
            try await Task.sleep(for: .milliseconds(100))
            gated.release()
        }
        let waited = await capture { try await store.waitForWriteBudget() }
        #expect(waited.failureValue == nil, "waiting while a commit is stalled on L0 threw \(waited)")
        #expect(store.committedEpoch == 4)
        #expect(gated.held > 0, "compaction was held")
        gated.release()
        try await opener.value
        try await committer.value
        try store.put(TableID(1), key: refused.key, value: [7], epoch: 5)
        #expect(try await MemtableBudgetTests.scanAll(store, table: 1, epoch: 4) == expectedRows(accepted, table: 1, from: nil, to: nil))
        #expect(try await store.get(TableID(2), key: Self.key(2), epoch: 4) == Self.value(3, 2))
        try await store.close()
    }

    // MARK: 4. a snapshot's scan outlives the snapshot

    /// A scan made from a snapshot, 15 rows in when the snapshot is released; a
    /// compaction and a zero-grace GC pass follow. The scan holds its own pin, so
    /// its SSTs stay and it reads on to the end; once the scan is gone, GC deletes them.
    @Test func aSnapshotsScanKeepsItsSstsAfterTheSnapshotIsReleased() async throws {
        var o = StoreOptions()
        o.compaction.background = false
        o.blockCacheBytes = 0
        o.sst.blockSize = 256
        let store = try await StateStore.open(objectStore: MemoryObjectStore(), options: o)
        var expected: [ModelKey: [UInt8]] = [:]
        for e in 1...2 {
            for i in stride(from: e - 1, to: 400, by: e) {
                try store.put(TableID(1), key: Self.key(i), value: Self.value(e, i), epoch: Epoch(e))
                expected[ModelKey(1, Self.key(i))] = Self.value(e, i)
            }
            try await store.checkpoint(epoch: Epoch(e), metadata: [:])
        }
        var rows: [Row] = []
        do {
            let snapshot = try store.snapshot(epoch: 2)
            let scan = snapshot.scan(TableID(1), from: nil, to: nil)
            var it = scan.makeAsyncIterator()
            for _ in 0..<15 {
                let row = try #require(try await it.next())
                rows.append(Row(key: row.key, value: row.value))
            }
            snapshot.release()
            #expect(try await store.compactUntilQuiescent() > 0)
            _ = try await store.collectGarbage(graceSeconds: 0)
            let rest = await capture {
                while let row = try await it.next() { rows.append(Row(key: row.key, value: row.value)) }
            }
            #expect(rest.failureValue == nil, "the scan after its snapshot's release, a compaction and GC: \(rest)")
        }
        #expect(rows == expectedRows(expected, table: 1, from: nil, to: nil))
        // The scan is gone, and its pin with it: the replaced SSTs are collected now.
        let gc = try await store.collectGarbage(graceSeconds: 0)
        #expect(gc.deletedObjects > 0)
        #expect(store.pins.count == 0)
        try await store.close()
    }

    // MARK: an unpinned get and a zero-grace GC

    /// A get reads an SST block (held until released) while a compaction replaces
    /// that SST and a zero-grace GC deletes it: the get must answer from the newer
    /// version, not fail with `objectNotFound`.
    @Test func aGetWhoseSstIsCollectedMidReadAnswersFromTheNewerVersion() async throws {
        let gated = GatedStore()
        var o = StoreOptions()
        o.compaction.background = false
        o.blockCacheBytes = 0
        let store = try await StateStore.open(objectStore: gated, options: o)
        for e in 1...2 {
            for i in stride(from: e - 1, to: 60, by: e) { try store.put(TableID(1), key: Self.key(i), value: Self.value(e, i), epoch: Epoch(e)) }
            try await store.checkpoint(epoch: Epoch(e), metadata: [:])
        }
        // Metas and filters cached: the next get reads only blocks.
        #expect(try await store.get(TableID(1), key: Self.key(0), epoch: 2) == Self.value(1, 0))
        #expect(try await store.get(TableID(1), key: Self.key(1), epoch: 2) == Self.value(2, 1))
        gated.hold(all: false)
        let reader = Task { try await store.get(TableID(1), key: Self.key(7), epoch: 2) }
        while gated.held == 0 { try await Task.sleep(for: .milliseconds(1)) }
        #expect(try await store.compactUntilQuiescent() > 0)
        let gc = try await store.collectGarbage(graceSeconds: 0)
        #expect(gc.deletedObjects > 0)
        gated.release()
        let got = await capture { try await reader.value }
        #expect(got == .success(Self.value(2, 7)))
        try await store.close()
    }

    // MARK: a failed directory fsync is not retried into trust

    /// Fails the fsync of a directory descriptor while `failures` is positive; otherwise the real file system.
    final class FailingDirectoryFsync: FileSystem {
        let inner = PosixFileSystem()
        /// Open directory descriptors, and how many of their fsyncs are still to fail.
        let state = Mutex<(directories: Set<Int32>, failures: Int)>(([], 0))

        func failNextDirectoryFsync() { state.withLock { $0.failures = 1 } }

        func open(_ path: String, _ mode: FileOpenMode) throws(FileSystemError) -> Int32 {
            let fd = try inner.open(path, mode)
            if mode == .directory { state.withLock { _ = $0.directories.insert(fd) } }
            return fd
        }
        func close(_ fd: Int32) throws(FileSystemError) {
            state.withLock { _ = $0.directories.remove(fd) }
            try inner.close(fd)
        }
        func fsync(_ fd: Int32) throws(FileSystemError) {
            let fail = state.withLock { s in
                guard s.directories.contains(fd), s.failures > 0 else { return false }
                s.failures -= 1
                return true
            }
            if fail { throw FileSystemError("fsync", EIO) }
            try inner.fsync(fd)
        }
        func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(FileSystemError) -> Int { try inner.write(fd, bytes) }
        func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int) throws(FileSystemError) -> Int {
            try inner.pread(fd, into: buffer, offset: offset)
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

    /// The fsync after a manifest object's link fails (EIO). Linux reports such an
    /// error once, so the retry's fsync succeeds without making the first link
    /// durable: the retry must not report the object as present and durable.
    @Test func aRetryAfterAFailedDirectoryFsyncIsNotTrusted() async throws {
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        let fs = FailingDirectoryFsync()
        let store = try LocalObjectStore(root: dir.path, fileSystem: fs)
        #expect(try await store.createIfAbsent("manifest/a", [1]))
        fs.failNextDirectoryFsync()
        let first = await capture { try await store.createIfAbsent("manifest/b", [2]) }
        guard case let .failure(.io(_, reason)) = first, reason.contains("fsync") else {
            Issue.record("the failed fsync: \(first)")
            return
        }
        let retry = await capture { try await store.createIfAbsent("manifest/b", [2]) }
        guard case let .failure(.io(path, why)) = retry else {
            Issue.record("a retry after a failed directory fsync trusted the next fsync: \(retry)")
            return
        }
        #expect(path.hasSuffix("/manifest") && why.contains("an earlier fsync of this directory failed"), "\(why)")
        let put = await capture { try await store.put("manifest/c", [3]) }
        #expect(put.failureValue != nil, "\(put)")
        // Another directory is unaffected; a new instance (after the disk was checked) trusts again.
        try await store.put("data/x", [4])
        let fresh = try LocalObjectStore(root: dir.path, fileSystem: fs)
        #expect(try await fresh.createIfAbsent("manifest/b", [2]) == false)
        #expect(try await fresh.get("manifest/b") == [2])
    }

    // MARK: edge inputs

    /// A 2 GiB value (its pages never touched) and a key over the limit are typed
    /// errors that change nothing, not a trap in the memtable's 32-bit lengths.
    @Test func aTwoGiBValueIsATypedErrorNotATrap() async throws {
        var o = StoreOptions()
        o.compaction.background = false
        let store = try await StateStore.open(objectStore: MemoryObjectStore(), options: o)
        let huge = [UInt8](unsafeUninitializedCapacity: 1 << 31) { _, n in n = 1 << 31 }
        let put = await capture { try store.put(TableID(1), key: [1], value: huge, epoch: 1) }
        #expect(put.failureValue == .invalidArgument("value of 2147483648 bytes is longer than the limit of 1073741824 bytes"))
        let longKey = [UInt8](repeating: 1, count: StateStore.maxKeyBytes + 1)
        let del = await capture { try store.delete(TableID(1), key: longKey, epoch: 1) }
        #expect(del.failureValue == .invalidArgument("key of 16777217 bytes is longer than the limit of 16777216 bytes"))
        var batch = WriteBatch()
        batch.put(TableID(1), key: [2], value: [2])
        batch.put(TableID(1), key: longKey, value: [3])
        let write = await capture { try store.write(batch, epoch: 1) }
        #expect(write.failureValue == .invalidArgument("key of 16777217 bytes is longer than the limit of 16777216 bytes"))
        #expect(store.statistics.memtableBytes == 0, "a refused write changes nothing")
        try store.put(TableID(1), key: [1], value: [9], epoch: 1)
        try await store.checkpoint(epoch: 1, metadata: [:])
        #expect(try await store.get(TableID(1), key: [1], epoch: 1) == [9])
        #expect(try await store.get(TableID(1), key: [2], epoch: 1) == nil)
        try await store.close()
    }

    /// A pipeline reaching `Epoch.max` commits it, then refuses to go on with a
    /// typed error; a pipeline on a store committed at `Epoch.max` cannot start.
    @Test func aPipelineEndsAtEpochMaxWithATypedError() async throws {
        var o = StoreOptions()
        o.compaction.background = false
        let store = try await StateStore.open(objectStore: MemoryObjectStore(), options: o)
        try store.put(TableID(1), key: [1], value: [1], epoch: .max - 1)
        try await store.checkpoint(epoch: .max - 1, metadata: [:])
        var pipeline = try CheckpointPipeline(store: store)
        #expect(pipeline.epoch == .max)
        try store.put(TableID(1), key: [1], value: [9], epoch: pipeline.epoch)
        try await pipeline.endEpoch()
        #expect(pipeline.epoch == .max)
        let more = await capture { try await pipeline.endEpoch() }
        #expect(more.failureValue == .invalidArgument("epoch 18446744073709551615 (Epoch.max) was the last epoch: no epoch follows it to end"))
        #expect(try await pipeline.drain().map(\.epoch) == [.max])
        #expect(store.committedEpoch == .max)
        #expect(try await store.get(TableID(1), key: [1], epoch: .max) == [9])
        let again = await capture { try CheckpointPipeline(store: store) }
        #expect(again.failureValue == .invalidArgument("the store's committed epoch is 18446744073709551615 (Epoch.max): no epoch follows it"))
        try await store.close()
    }
}
