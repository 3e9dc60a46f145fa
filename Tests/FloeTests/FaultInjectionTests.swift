import Testing
@testable import Floe
import FloeTesting

/// Failures below the store (object store errors, crashes, lost acknowledgements,
/// a second writer): nothing partial ever becomes visible, nothing committed is
/// lost, the store stays usable, and retries commit each epoch exactly once.
@Suite(.timeLimit(.minutes(2))) struct FaultInjectionTests {
    static func options() -> StoreOptions {
        var o = StoreOptions()
        o.retentionEpochs = 1_000
        o.manifestCheckpointInterval = 3
        // These tests count sub-levels and manifest reads exactly.
        o.compaction.background = false
        return o
    }

    static let t1 = TableID(1), t2 = TableID(2)
    static let a = ModelKey(1, [1]), b = ModelKey(1, [1, 0]), c = ModelKey(2, []), d = ModelKey(2, [7, 7])
    static let keys = [a, b, c, d, ModelKey(1, []), ModelKey(3, [1])]

    static func apply(_ store: StateStore, _ map: inout [ModelKey: [UInt8]], _ writes: [(ModelKey, [UInt8]?)], epoch: Epoch) throws {
        for (k, v) in writes {
            if let v { try store.put(TableID(k.table), key: k.key, value: v, epoch: epoch) } else {
                try store.delete(TableID(k.table), key: k.key, epoch: epoch)
            }
            map[k] = v
        }
    }

    /// Every key of `keys` and a full scan of tables 1...3 at `epoch` equal `map`.
    static func expectState(_ store: StateStore, _ map: [ModelKey: [UInt8]], epoch: Epoch, keys: [ModelKey] = keys,
                            _ context: String, sourceLocation: SourceLocation = #_sourceLocation) async {
        for k in keys {
            let got = await capture { try await store.get(TableID(k.table), key: k.key, epoch: epoch) }
            #expect(got == .success(map[k]), "\(context): get \(k) @\(epoch)", sourceLocation: sourceLocation)
        }
        for t: UInt32 in 1...3 {
            let got = await capture { try await collectRows(store.scan(TableID(t), from: nil, to: nil, epoch: epoch)) }
            #expect(got == .success(expectedRows(map, table: t, from: nil, to: nil)), "\(context): scan t\(t) @\(epoch)",
                    sourceLocation: sourceLocation)
        }
    }

    /// The commit deltas in `objects`' manifest, decoded (no store involved).
    static func commitDeltas(_ objects: MemoryObjectStore) async throws -> [VersionDelta] {
        var out: [VersionDelta] = []
        for o in try await objects.list(prefix: "manifest/") where o.path.hasSuffix(".delta") {
            let d = try ManifestCodec.decodeDelta(try await objects.get(o.path), object: o.path)
            if d.kind == .commit { out.append(d) }
        }
        return out
    }

    static func md(_ e: Epoch) -> [String: [UInt8]] { ["offset": e.leBytes] }

    // MARK: failed upload

    @Test func failedSstUploadCommitsNothingAndSyncCanBeRetried() async throws {
        let inner = MemoryObjectStore()
        let faults = FaultInjectingObjectStore(wrapping: inner, seed: 1)
        let store = try await StateStore.open(objectStore: faults, options: Self.options())
        var m1: [ModelKey: [UInt8]] = [:]
        try Self.apply(store, &m1, [(Self.a, [10]), (Self.b, [11])], epoch: 1)
        try await store.checkpoint(epoch: 1, metadata: Self.md(1))
        var m2 = m1
        try Self.apply(store, &m2, [(Self.a, [20]), (Self.b, nil), (Self.c, [22])], epoch: 2)
        try store.seal(epoch: 2)

        faults.addRule(FaultRule(.fail, operations: [.put], pathContains: "data/"))
        let failed = await capture { try await store.sync(epoch: 2) }
        guard case let .failure(.io(path, reason)) = failed else {
            Issue.record("sync with failing uploads: \(failed)")
            return
        }
        #expect(path.hasPrefix("data/") && reason == "injected fault: put")

        // Nothing committed; committed reads unchanged; the writer still reads its sealed epoch.
        #expect(store.committedEpoch == 1)
        #expect(store.committedMetadata == Self.md(1))
        #expect(store.statistics.l0SubLevels == 1)
        await Self.expectState(store, m1, epoch: 1, "after failed sync")
        await Self.expectState(store, m2, epoch: 2, "after failed sync, own epoch")
        // Nothing of epoch 2 reached the object store, and a new process sees epoch 1.
        #expect(try await inner.list(prefix: "data/").count == 1)
        let other = try await StateStore.open(objectStore: MemoryObjectStore(objects: inner.snapshot()), options: Self.options())
        #expect(other.committedEpoch == 1)
        await Self.expectState(other, m1, epoch: 2, "new process after failed sync")

        // The store stays usable: later epochs take writes.
        var m3 = m2
        try Self.apply(store, &m3, [(Self.a, [30]), (Self.d, [33])], epoch: 3)
        await Self.expectState(store, m3, epoch: 3, "writes after failed sync")

        // Retry of the same epoch once the fault is gone.
        faults.removeAllRules()
        let r = try await store.sync(epoch: 2)
        #expect(r.epochs == [2])
        try await store.commit(epoch: 2, r, metadata: Self.md(2))
        #expect(store.committedEpoch == 2)
        #expect(store.statistics.l0SubLevels == 2)
        await Self.expectState(store, m1, epoch: 1, "after retry")
        await Self.expectState(store, m2, epoch: 2, "after retry")
        try await store.checkpoint(epoch: 3, metadata: Self.md(3))
        try await store.close()

        let reopened = try await StateStore.open(objectStore: inner, options: Self.options())
        #expect(reopened.committedEpoch == 3)
        #expect(reopened.committedMetadata == Self.md(3))
        #expect(reopened.statistics.l0SubLevels == 3)
        await Self.expectState(reopened, m1, epoch: 1, "reopened")
        await Self.expectState(reopened, m2, epoch: 2, "reopened")
        await Self.expectState(reopened, m3, epoch: 3, "reopened")
    }

    // MARK: crash

    /// A crash after the SSTs of epoch 3 are uploaded but before its manifest
    /// delta: either a crash rule on the manifest create, or `crash()` right
    /// after `sync` returns.
    @Test(arguments: [true, false])
    func crashBetweenUploadAndManifestCommitRecoversPreviousEpoch(crashRule: Bool) async throws {
        let inner = MemoryObjectStore()
        let faults = FaultInjectingObjectStore(wrapping: inner, seed: 2)
        let store = try await StateStore.open(objectStore: faults, options: Self.options())
        var m1: [ModelKey: [UInt8]] = [:]
        try Self.apply(store, &m1, [(Self.a, [1]), (Self.b, [2]), (Self.c, [3])], epoch: 1)
        try await store.checkpoint(epoch: 1, metadata: Self.md(1))
        var m2 = m1
        try Self.apply(store, &m2, [(Self.a, [4]), (Self.d, [5])], epoch: 2)
        try await store.checkpoint(epoch: 2, metadata: Self.md(2))
        var m3 = m2
        try Self.apply(store, &m3, [(Self.a, [6]), (Self.b, nil), (Self.c, [7]), (ModelKey(1, []), [8])], epoch: 3)
        try store.seal(epoch: 3)

        if crashRule { faults.addRule(FaultRule(.crash, operations: [.createIfAbsent], pathContains: "manifest/")) }
        let r = try await store.sync(epoch: 3)
        if !crashRule { faults.crash() }
        let next = VersionDelta.objectPath(store.statistics.manifestSequence + 1)
        let failed = await capture { try await store.commit(epoch: 3, r, metadata: Self.md(3)) }
        #expect(failed.failureValue == .io(path: next, reason: "injected crash"))
        #expect(faults.isCrashed)
        // The uploads landed (orphans now); the delta did not.
        for s in r.ssts { #expect(try await inner.size(s.path) == Int(s.fileSize)) }
        await #expect(throws: FloeError.objectNotFound(next)) { _ = try await inner.get(next) }

        // The restarted process: previous epoch, exactly, nothing of epoch 3.
        let restarted = FaultInjectingObjectStore(wrapping: inner, seed: 3)
        let s2 = try await StateStore.open(objectStore: restarted, options: Self.options())
        #expect(s2.committedEpoch == 2)
        #expect(s2.committedMetadata == Self.md(2))
        #expect(s2.statistics.l0SubLevels == 2)
        await Self.expectState(s2, m1, epoch: 1, "recovered")
        for e: Epoch in [2, 3, 100] { await Self.expectState(s2, m2, epoch: e, "recovered") }

        // It continues writing above the committed epoch, reusing epoch 3.
        var m3b = m2
        try Self.apply(s2, &m3b, [(Self.b, [9]), (Self.d, nil)], epoch: 3)
        try await s2.checkpoint(epoch: 3, metadata: Self.md(3))
        await Self.expectState(s2, m3b, epoch: 3, "after recovery")
        try await s2.close()
        let s3 = try await StateStore.open(objectStore: inner, options: Self.options())
        #expect(s3.committedEpoch == 3)
        await Self.expectState(s3, m2, epoch: 2, "reopened after recovery")
        await Self.expectState(s3, m3b, epoch: 3, "reopened after recovery")
    }

    // MARK: lost acknowledgement

    /// The manifest create lands but its acknowledgement is lost. If the store
    /// can read the delta back it may recognise the commit at once; otherwise
    /// the commit throws and a retry with the same `SyncResult` finishes it.
    /// Either way epoch 2 is committed exactly once.
    @Test(arguments: [false, true])
    func lostManifestAckCommitsExactlyOnce(readBackFails: Bool) async throws {
        let inner = MemoryObjectStore()
        let faults = FaultInjectingObjectStore(wrapping: inner, seed: 4)
        let store = try await StateStore.open(objectStore: faults, options: Self.options())
        var m1: [ModelKey: [UInt8]] = [:]
        try Self.apply(store, &m1, [(Self.a, [1]), (Self.c, [2])], epoch: 1)
        try await store.checkpoint(epoch: 1, metadata: Self.md(1))
        var m2 = m1
        try Self.apply(store, &m2, [(Self.a, [3]), (Self.c, nil), (Self.d, [4])], epoch: 2)
        try store.seal(epoch: 2)
        let r = try await store.sync(epoch: 2)
        let seq = store.statistics.manifestSequence + 1

        faults.addRule(FaultRule(.failAfterApplying, operations: [.createIfAbsent], pathContains: "manifest/", limit: 1))
        if readBackFails { faults.addRule(FaultRule(.fail, operations: [.get], pathContains: "manifest/", limit: 1)) }
        let first = await capture { try await store.commit(epoch: 2, r, metadata: Self.md(2)) }
        #expect(try await inner.size(VersionDelta.objectPath(seq)) > 0, "the delta landed")
        switch first {
        case .success:
            // Recognised at once; a retry is refused as already committed and changes nothing.
            let again = await capture { try await store.commit(epoch: 2, r, metadata: Self.md(2)) }
            #expect(again.failureValue.map { if case .commitOutOfOrder = $0 { true } else { false } } == true, "\(again)")
        case let .failure(e):
            #expect(e == .io(path: VersionDelta.objectPath(seq), reason: "injected fault: createIfAbsent"))
            #expect(store.committedEpoch == 1)
            #expect(store.statistics.l0SubLevels == 1)
            await Self.expectState(store, m1, epoch: 1, "after lost ack")
            await Self.expectState(store, m2, epoch: 2, "after lost ack, own epoch")
            try await store.commit(epoch: 2, r, metadata: Self.md(2))
        }
        #expect(store.committedEpoch == 2)
        #expect(store.committedMetadata == Self.md(2))
        #expect(store.statistics.l0SubLevels == 2, "epoch 2 must add one sub-level, not two")
        await Self.expectState(store, m2, epoch: 2, "after commit")
        #expect(try await Self.commitDeltas(inner).filter { $0.committedEpoch == 2 }.count == 1)

        // The manifest continues at the next sequence.
        var m3 = m2
        try Self.apply(store, &m3, [(Self.b, [5])], epoch: 3)
        try await store.checkpoint(epoch: 3, metadata: Self.md(3))
        #expect(store.statistics.l0SubLevels == 3)
        try await store.close()
        let reopened = try await StateStore.open(objectStore: inner, options: Self.options())
        #expect(reopened.committedEpoch == 3)
        #expect(reopened.statistics.l0SubLevels == 3)
        #expect(try await Self.commitDeltas(inner).map(\.committedEpoch) == [1, 2, 3])
        await Self.expectState(reopened, m1, epoch: 1, "reopened")
        await Self.expectState(reopened, m2, epoch: 2, "reopened")
        await Self.expectState(reopened, m3, epoch: 3, "reopened")
    }

    enum CommitFault: String, CaseIterable, Sendable { case clean, ambiguous }

    /// `checkpoint` whose manifest commit fails (cleanly, or after the delta
    /// landed with the acknowledgement lost): calling `checkpoint` again must
    /// commit the epoch, exactly once, and so must moving on to a later epoch.
    @Test(arguments: CommitFault.allCases, [false, true])
    func checkpointCanBeRetriedAfterItsCommitFailed(fault: CommitFault, moveOn: Bool) async throws {
        let inner = MemoryObjectStore()
        let faults = FaultInjectingObjectStore(wrapping: inner, seed: 5)
        let store = try await StateStore.open(objectStore: faults, options: Self.options())
        var m1: [ModelKey: [UInt8]] = [:]
        try Self.apply(store, &m1, [(Self.a, [1]), (Self.b, [2])], epoch: 1)
        try await store.checkpoint(epoch: 1, metadata: Self.md(1))
        var m2 = m1
        try Self.apply(store, &m2, [(Self.a, [3]), (Self.b, nil), (Self.c, [4])], epoch: 2)

        switch fault {
        case .clean:
            faults.addRule(FaultRule(.fail, operations: [.createIfAbsent], pathContains: "manifest/", limit: 1))
        case .ambiguous:
            faults.addRule(FaultRule(.failAfterApplying, operations: [.createIfAbsent], pathContains: "manifest/", limit: 1))
            faults.addRule(FaultRule(.fail, operations: [.get], pathContains: "manifest/", limit: 1))
        }
        let failed = await capture { try await store.checkpoint(epoch: 2, metadata: Self.md(2)) }
        guard case .failure(.io) = failed else {
            Issue.record("checkpoint with a failing manifest commit: \(failed)")
            return
        }
        #expect(store.committedEpoch == 1)
        await Self.expectState(store, m2, epoch: 2, "own epoch after failed checkpoint")

        var expected = m2
        var last: Epoch = 2
        if moveOn {
            try Self.apply(store, &expected, [(Self.d, [5]), (Self.a, nil)], epoch: 3)
            last = 3
        }
        try await store.checkpoint(epoch: last, metadata: Self.md(last))
        #expect(store.committedEpoch == last)
        #expect(store.committedMetadata == Self.md(last))
        #expect(store.statistics.l0SubLevels == Int(last), "one sub-level per epoch")
        await Self.expectState(store, m1, epoch: 1, "after retried checkpoint")
        await Self.expectState(store, m2, epoch: 2, "after retried checkpoint")
        await Self.expectState(store, expected, epoch: last, "after retried checkpoint")
        #expect(try await Self.commitDeltas(inner).filter { $0.committedEpoch == 2 }.count == 1)
        try await store.close()

        let reopened = try await StateStore.open(objectStore: inner, options: Self.options())
        #expect(reopened.committedEpoch == last)
        #expect(reopened.statistics.l0SubLevels == Int(last))
        await Self.expectState(reopened, m2, epoch: 2, "reopened")
        await Self.expectState(reopened, expected, epoch: last, "reopened")
    }

    // MARK: fencing

    @Test func fencedWriterCannotCommitAndLeavesNoTrace() async throws {
        let mem = MemoryObjectStore()
        let a = try await StateStore.open(objectStore: mem, options: Self.options())
        var m1: [ModelKey: [UInt8]] = [:]
        try Self.apply(a, &m1, [(Self.a, [1]), (Self.c, [2])], epoch: 1)
        try await a.checkpoint(epoch: 1, metadata: Self.md(1))

        let b = try await StateStore.open(objectStore: mem, options: Self.options())
        // A does not know yet: it writes, seals and uploads epoch 2, then fails to commit.
        var mA = m1
        try Self.apply(a, &mA, [(Self.a, [99]), (Self.d, [98]), (Self.c, nil)], epoch: 2)
        try a.seal(epoch: 2)
        let r = try await a.sync(epoch: 2)
        let failed = await capture { try await a.commit(epoch: 2, r, metadata: Self.md(2)) }
        guard case let .failure(.fenced(why)) = failed else {
            Issue.record("commit of a fenced writer: \(failed)")
            return
        }
        #expect(FloeError.fenced(why).description.contains("fenced"))
        #expect(a.isFenced)
        #expect(a.committedEpoch == 1)
        // Everything A tries from now on is refused as fenced.
        for attempt in [await capture { try a.put(Self.t1, key: [1], value: [1], epoch: 3) },
                        await capture { try a.seal(epoch: 3) },
                        await capture { _ = try await a.sync(epoch: 2) },
                        await capture { try await a.commit(epoch: 2, r, metadata: Self.md(2)) },
                        await capture { try await a.checkpoint(epoch: 5, metadata: Self.md(5)) }] {
            #expect(attempt.failureValue.map { if case .fenced = $0 { true } else { false } } == true, "\(attempt)")
        }

        // Neither B nor a new process sees any of A's epoch 2.
        #expect(b.committedEpoch == 1)
        for e: Epoch in [1, 2, 3] { await Self.expectState(b, m1, epoch: e, "B") }
        let view = try await StateStore.open(objectStore: MemoryObjectStore(objects: mem.snapshot()), options: Self.options())
        #expect(view.committedEpoch == 1)
        #expect(view.committedMetadata == Self.md(1))
        await Self.expectState(view, m1, epoch: 2, "new process")

        // B commits.
        var m2 = m1
        try Self.apply(b, &m2, [(Self.b, [7]), (Self.a, [8])], epoch: 2)
        try await b.checkpoint(epoch: 2, metadata: Self.md(2))
        await Self.expectState(b, m2, epoch: 2, "B after commit")
        let later = try await StateStore.open(objectStore: MemoryObjectStore(objects: mem.snapshot()), options: Self.options())
        #expect(later.committedEpoch == 2)
        #expect(later.statistics.l0SubLevels == 2)
        await Self.expectState(later, m1, epoch: 1, "new process after B")
        await Self.expectState(later, m2, epoch: 2, "new process after B")
    }

    // MARK: recovery time

    /// DESIGN.md: "periodic full checkpoints bound recovery time". However the
    /// store is reopened, interleaved with commits or not (a crash loop commits
    /// nothing), `open` reads one checkpoint and fewer than `interval` deltas, plus
    /// the one delta its open record's append checks behind it (`ManifestStore.commit`).
    @Test(arguments: [0, 1, 2])
    func openReadsABoundedManifest(commitsPerSession: Int) async throws {
        var o = Self.options()
        o.manifestCheckpointInterval = 3
        let inner = MemoryObjectStore()
        var map: [ModelKey: [UInt8]] = [:]
        var epoch: Epoch = 0
        for session in 0..<12 {
            let counting = FaultInjectingObjectStore(wrapping: inner)
            let store = try await StateStore.open(objectStore: counting, options: o)
            let manifestGets = counting.operationCount(.get)
            #expect(manifestGets <= Int(o.manifestCheckpointInterval) + 1,
                    "session \(session): open read \(manifestGets) manifest objects")
            #expect(store.committedEpoch == epoch)
            await Self.expectState(store, map, epoch: epoch, "session \(session)")
            for _ in 0..<commitsPerSession {
                epoch += 1
                try Self.apply(store, &map, [(Self.a, epoch.leBytes), (Self.c, [UInt8(truncatingIfNeeded: session)])], epoch: epoch)
                try await store.checkpoint(epoch: epoch, metadata: Self.md(epoch))
            }
            try await store.close()
        }
    }

    // MARK: fault storm

    /// 20 seeds of a few hundred operations against an object store where 20% of
    /// puts, gets and manifest creates fail (and 10% of manifest creates land but
    /// lose their acknowledgement). Even seeds commit with seal / sync / commit,
    /// odd seeds with `checkpoint`. A throwing operation must not advance the
    /// model; reads must be exact or an I/O error; and at the end, with the
    /// faults gone, a reopened store holds exactly the model's state at the last
    /// epoch whose commit returned, or at the one whose commit threw last if
    /// that commit landed.
    @Test(arguments: 0..<UInt64(20))
    func faultStormNeverLosesOrInventsCommittedData(seed: UInt64) async throws {
        await StormRun(seed: seed).execute()
    }
}

/// One fault-storm run; see `faultStormNeverLosesOrInventsCommittedData`.
final class StormRun {
    static let opsPerSeed = 300
    static let keys: [[UInt8]] = [[], [1], [1, 0], [1, 0, 0], [2], [2, 255], [255]]

    let seed: UInt64
    var rng: SplitMix64
    let inner = MemoryObjectStore()
    let faults: FaultInjectingObjectStore
    var options = StoreOptions()
    let useCheckpoint: Bool
    var store: StateStore?
    var model = StoreModel()
    /// Manual flow: sync results not yet committed, oldest first.
    var syncs: [(result: SyncResult, epochs: [Epoch])] = []
    /// A commit that threw after possibly landing in the manifest: its epoch and metadata.
    /// Manual flow: the first pending sync's commit; checkpoint flow: the store's unfinished checkpoint.
    var inDoubt: (epoch: Epoch, metadata: [String: [UInt8]])?
    var op = 0
    var what = ""
    var failures = 0

    init(seed: UInt64) {
        self.seed = seed
        rng = SplitMix64(seed: seed &+ 0xF00D)
        useCheckpoint = seed % 2 == 1
        faults = FaultInjectingObjectStore(wrapping: inner, seed: seed, rules: [
            FaultRule(.failAfterApplying, operations: [.createIfAbsent], pathContains: "manifest/", probability: 0.1),
            FaultRule(.fail, operations: [.put, .get, .createIfAbsent], probability: 0.2),
        ])
    }

    func int(_ n: Int) -> Int { n <= 1 ? 0 : Int(rng.next() % UInt64(n)) }
    func chance(_ p: Double) -> Bool { Double(rng.next() >> 11) * 0x1p-53 < p }
    func md(_ e: Epoch) -> [String: [UInt8]] { ["offset": e.leBytes] }
    var prefix: String { "storm seed \(seed) op \(op) [\(what)]" }

    func fail(_ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        failures += 1
        Issue.record("\(prefix): \(message)", sourceLocation: sourceLocation)
    }

    func check<T: Equatable>(_ actual: T, _ expected: T, _ detail: String, sourceLocation: SourceLocation = #_sourceLocation) {
        if actual != expected { fail("\(detail): got \(actual), expected \(expected)", sourceLocation: sourceLocation) }
    }

    /// A read's outcome: the model's answer, or an injected I/O error.
    func checkRead<T: Equatable>(_ got: Result<T, FloeError>, _ expected: T, _ detail: String) {
        switch got {
        case let .success(v): check(v, expected, detail)
        case .failure(.io): break
        case let .failure(e): fail("\(detail) threw \(e), not an I/O error")
        }
    }

    func checkCommittedState() {
        guard let store else { return }
        check(store.committedEpoch, model.committed, "committed epoch")
        check(store.committedMetadata, model.metadata, "committed metadata")
        if options.compaction.background {
            // Background compaction (also under the storm) only ever merges sub-levels.
            if store.statistics.l0SubLevels > model.subLevels {
                fail("L0 has \(store.statistics.l0SubLevels) sub-levels, more than \(model.subLevels) commits with data")
            }
        } else {
            check(store.statistics.l0SubLevels, model.subLevels, "L0 sub-levels (one per commit with data)")
        }
    }

    func execute() async {
        // Half the seeds compact in the background, with small triggers so it happens.
        options.compaction.background = seed % 2 == 0
        options.compaction.targetFileSize = 4096
        options.compaction.baseLevelBytes = 8192
        options.compaction.l0CompactionTrigger = 2
        // No write stalls here: a stall that surfaces a storm-failed compaction is
        // covered by CompactionTests; this harness classifies I/O failures only.
        options.compaction.l0SlowdownSubLevels = 100_000
        options.compaction.l0StopSubLevels = 100_000
        if chance(0.5) {
            options.sst.blockSize = 256
            options.sst.targetFileSize = 4096
            options.sst.restartInterval = 1 + int(4)
        }
        options.sst.compression = [Compression.none, .lz4, .zstd][int(3)]
        options.retentionEpochs = 1_000_000
        options.manifestCheckpointInterval = 3
        what = "open"
        guard await reopen(through: faults) else { return }
        for i in 0..<Self.opsPerSeed {
            op = i
            await step()
            if failures > 0 { return }
        }
        op = Self.opsPerSeed
        what = "final reopen without faults"
        faults.removeAllRules()
        guard await reopen(through: inner) else { return }
        await fullCheck(at: model.committed)
        for _ in 0..<3 { await fullCheck(at: Epoch(int(Int(model.committed) + 1))) }
    }

    func step() async {
        let r = int(100)
        switch r {
        case ..<35: doWrite()
        case ..<43: doBatch()
        case ..<63:
            if useCheckpoint { await doCheckpoint() } else if chance(0.25) {
                switch int(3) {
                case 0: doSeal()
                case 1: await doSync()
                default: await doCommit()
                }
            } else if !syncs.isEmpty {
                await doCommit()
            } else if model.sealed.contains(where: { $0.claimedBy == nil }) {
                await doSync()
            } else {
                doSeal()
            }
        case ..<87: await doGet()
        case ..<96: await doScan()
        case ..<98: what = "reopen"; _ = await reopen(through: faults)
        default: what = "state"; checkCommittedState()
        }
    }

    func writeEpoch() -> Epoch {
        if model.latestWritten > model.sealedThrough && chance(0.7) { return model.latestWritten }
        return max(model.latestWritten, model.sealedThrough) + 1
    }

    func randomKey() -> ModelKey { ModelKey(UInt32(1 + int(2)), Self.keys[int(Self.keys.count)]) }

    func doWrite() {
        guard let store else { return }
        let e = writeEpoch(), k = randomKey()
        let v: [UInt8]? = chance(0.25) ? nil : (0..<int(21)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        what = "\(v == nil ? "delete" : "put") \(k) @\(e)"
        do {
            if let v { try store.put(TableID(k.table), key: k.key, value: v, epoch: e) } else {
                try store.delete(TableID(k.table), key: k.key, epoch: e)
            }
            model.applyWrites(e, [(k, v.map { .put($0) } ?? .delete)])
        } catch {
            fail("write threw \(error)")
        }
    }

    func doBatch() {
        guard let store else { return }
        let e = writeEpoch()
        var batch = WriteBatch()
        var writes: [(ModelKey, StoreModel.Write)] = []
        for _ in 0..<(1 + int(30)) {
            let k = ModelKey(UInt32(1 + int(2)), (0..<(1 + int(4))).map { _ in UInt8(int(4)) })
            let v = (0..<int(41)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            batch.put(TableID(k.table), key: k.key, value: v)
            writes.append((k, .put(v)))
        }
        what = "batch of \(batch.count) @\(e)"
        do {
            try store.write(batch, epoch: e)
            model.applyWrites(e, writes)
        } catch {
            fail("batch threw \(error)")
        }
    }

    func doSeal() {
        guard let store, model.latestWritten > model.sealedThrough else { return }
        let e = model.latestWritten
        what = "seal @\(e)"
        do {
            try store.seal(epoch: e)
            model.applySeal(e)
        } catch {
            fail("seal threw \(error)")
        }
    }

    func doSync() async {
        guard let store else { return }
        let low = max(model.committed, syncs.last?.result.epoch ?? 0)
        guard model.sealedThrough > low else { return }
        let e = model.sealedThrough
        what = "sync @\(e)"
        switch await capture({ try await store.sync(epoch: e) }) {
        case let .success(r):
            let claimed = model.applySync(e, id: 0)
            check(r.epochs, claimed, "sync result epochs")
            syncs.append((r, claimed))
        case .failure(.io):
            break // nothing claimed: the epochs can be synced again
        case let .failure(err):
            fail("sync threw \(err)")
        }
    }

    func doCommit() async {
        guard let store, let (r, epochs) = syncs.first else { return }
        let e = r.epoch
        if let err = model.commitError(e, resultEpoch: e, epochs: epochs) { return fail("harness: oldest sync not committable: \(err)") }
        let metadata = md(e)
        what = "commit @\(e) epochs \(epochs)\(inDoubt != nil ? " (retry)" : "")"
        switch await capture({ try await store.commit(epoch: e, r, metadata: metadata) }) {
        case .success:
            model.applyCommit(e, metadata: metadata)
            syncs.removeFirst()
            inDoubt = nil
            checkCommittedState()
        case .failure(.io):
            if store.committedEpoch == e {
                // The delta of an earlier attempt landed and a compaction, committing
                // over it, already installed it: the epoch is committed after all.
                model.applyCommit(e, metadata: metadata)
                syncs.removeFirst()
                inDoubt = nil
                checkCommittedState()
            } else {
                // Not committed as far as this store knows; it may have landed.
                check(store.committedEpoch, model.committed, "committed epoch after a failed commit")
                inDoubt = (e, metadata)
            }
        case let .failure(err):
            fail("commit threw \(err)")
        }
    }

    func doCheckpoint() async {
        guard let store else { return }
        let top = max(model.latestWritten, model.sealedThrough, model.committed + 1)
        let e = inDoubt.map { chance(0.3) ? $0.epoch : top } ?? top + Epoch(int(2))
        let metadata = md(e)
        let unfinished = inDoubt
        what = "checkpoint @\(e)\(unfinished.map { " (unfinished \($0.epoch))" } ?? "")"
        switch await capture({ try await store.checkpoint(epoch: e, metadata: metadata) }) {
        case .success:
            if let u = unfinished { model.applyCommit(u.epoch, metadata: u.metadata) }
            if unfinished?.epoch != e {
                model.applySeal(e)
                model.applyCommit(e, metadata: metadata)
            }
            inDoubt = nil
            checkCommittedState()
        case let .failure(.io(path, _)):
            // Which step failed: the unfinished commit (nothing else ran), the
            // sync (an upload, `data/`), or the commit (the manifest).
            let c = store.committedEpoch
            if let u = unfinished {
                guard c == u.epoch else {
                    check(c, model.committed, "committed epoch after a failed unfinished commit")
                    return
                }
                model.applyCommit(u.epoch, metadata: u.metadata)
                inDoubt = nil
            } else {
                check(c, model.committed, "committed epoch after a failed checkpoint")
            }
            model.applySeal(e)
            if path.hasPrefix("manifest/") { inDoubt = (e, metadata) } else if !path.hasPrefix("data/") {
                fail("checkpoint failed on \(path)")
            }
        case let .failure(err):
            fail("checkpoint threw \(err)")
        }
    }

    func readEpoch() -> Epoch {
        let top = max(model.latestWritten, model.sealedThrough) + 1
        return chance(0.5) ? model.committed : Epoch(int(Int(top) + 1))
    }

    func doGet() async {
        guard let store else { return }
        let e = readEpoch(), k = chance(0.8) ? randomKey() : ModelKey(UInt32(1 + int(2)), (0..<(1 + int(4))).map { _ in UInt8(int(4)) })
        what = "get \(k) @\(e)"
        checkRead(await capture { try await store.get(TableID(k.table), key: k.key, epoch: e) }, model.get(k, at: e), "get")
    }

    func doScan() async {
        guard let store else { return }
        let e = readEpoch(), t = UInt32(1 + int(2))
        let from = chance(0.5) ? nil : Self.keys[int(Self.keys.count)]
        what = "scan t\(t) from \(from.map { "\($0)" } ?? "nil") @\(e)"
        checkRead(await capture { try await collectRows(store.scan(TableID(t), from: from, to: nil, epoch: e)) },
                  expectedRows(model.view(at: e), table: t, from: from, to: nil), "scan")
    }

    /// Closes the store (if any) and opens a new one over `objects`, retrying
    /// injected failures. The recovered epoch must be the model's committed one,
    /// or the in-doubt commit's if that one landed.
    func reopen(through objects: any ObjectStore) async -> Bool {
        if let old = store { try? await old.close() }
        store = nil
        var opened: StateStore?
        for _ in 0..<100 where opened == nil {
            switch await capture({ try await StateStore.open(objectStore: objects, options: options) }) {
            case let .success(s): opened = s
            case .failure(.io): continue
            case let .failure(e): fail("open threw \(e)"); return false
            }
        }
        guard let opened else { fail("open kept failing"); return false }
        store = opened
        let c = opened.committedEpoch
        if let d = inDoubt, c == d.epoch, c != model.committed {
            model.applyCommit(d.epoch, metadata: d.metadata)
        } else if c != model.committed {
            fail("recovered epoch \(c); expected \(model.committed)\(inDoubt.map { " or \($0.epoch)" } ?? "")")
            return false
        }
        inDoubt = nil
        syncs.removeAll()
        model.reopen()
        checkCommittedState()
        return failures == 0
    }

    /// Every key read and every table scanned at `epoch`, with no faults left.
    func fullCheck(at e: Epoch) async {
        guard let store, failures == 0 else { return }
        what = "final check @\(e)"
        let map = model.view(at: e)
        for t: UInt32 in 1...2 {
            let got = await capture { try await collectRows(store.scan(TableID(t), from: nil, to: nil, epoch: e)) }
            check(got, .success(expectedRows(map, table: t, from: nil, to: nil)), "full scan t\(t)")
            for k in map.keys where k.table == t {
                let v = await capture { try await store.get(TableID(t), key: k.key, epoch: e) }
                check(v, .success(map[k]), "get \(k)")
            }
        }
    }
}
