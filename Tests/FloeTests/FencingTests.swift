import Testing
@testable import Floe
import FloeTesting

/// Fencing and GC against processes that fell behind: a writer paused while the
/// new owner commits past its checkpoints and prunes, a standalone compactor whose
/// task outlasts the GC grace or whose base was pruned, a damaged newest
/// checkpoint, and an idle writer reading while another process compacts.
/// Each scenario is an exact sequence of events on one `MemoryObjectStore`.
@Suite struct FencingTests {
    static let table = TableID(1)

    static func options(interval: UInt64 = 2, grace: Double = 60) -> StoreOptions {
        var o = StoreOptions()
        o.compaction.background = false
        o.manifestCheckpointInterval = interval
        o.compaction.gcGraceSeconds = grace
        o.compaction.l0CompactionTrigger = 2
        o.compaction.compactorLeaseRenewSeconds = 0.05
        return o
    }

    static func key(_ e: Epoch, _ i: Int) -> [UInt8] { Array("k\(e)-\(i)".utf8) }
    static func value(_ e: Epoch, _ i: Int) -> [UInt8] { Array("v\(e)-\(i)-".utf8) + [UInt8](repeating: UInt8(truncatingIfNeeded: e), count: 40) }

    /// Puts 20 keys at `e` and checkpoints it with `offset = e`.
    static func commitEpoch(_ s: StateStore, _ e: Epoch, keys: Int = 20) async throws {
        for i in 0..<keys { try s.put(table, key: key(e, i), value: value(e, i), epoch: e) }
        try await s.checkpoint(epoch: e, metadata: ["offset": [UInt8(truncatingIfNeeded: e)]])
    }

    /// A fresh process opens the objects: committed epoch `epoch`, every key of
    /// `epochs` exact, none of `absent`, and `StoreVerifier` finds no problem.
    static func expectIntact(_ objects: any ObjectStore, epoch: Epoch, epochs: [Epoch], absent: [Epoch] = [],
                             _ context: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let s = try await StateStore.open(objectStore: objects, options: options())
        #expect(s.committedEpoch == epoch, "\(context): committed epoch", sourceLocation: sourceLocation)
        for e in epochs {
            for i in 0..<20 {
                let got = await capture { try await s.get(table, key: key(e, i), epoch: epoch) }
                #expect(got == .success(value(e, i)), "\(context): key \(i) of epoch \(e)", sourceLocation: sourceLocation)
            }
        }
        for e in absent {
            for i in 0..<20 {
                let got = await capture { try await s.get(table, key: key(e, i), epoch: epoch) }
                #expect(got == .success(nil), "\(context): key \(i) of fenced epoch \(e) must not be visible", sourceLocation: sourceLocation)
            }
        }
        try await s.close()
        let report = try await StoreVerifier.verify(objectStore: objects)
        #expect(report.problems.isEmpty, "\(context): verify found \(report.problems)", sourceLocation: sourceLocation)
    }

    static func checkpoints(_ m: MemoryObjectStore) -> [String: [UInt8]] {
        m.snapshot().filter { $0.key.hasSuffix(".checkpoint") }
    }

    // MARK: 1. a fenced writer whose next sequence was pruned

    /// Writer A commits epoch 1; writer B opens (fencing A) and checkpoints epochs
    /// 10 to 15, so A's next sequences are pruned. A keeps running for several
    /// checkpoint intervals: every one of its checkpoints is refused as fenced, none
    /// of its data becomes visible, B's checkpoints are never overwritten, and A's
    /// GC deletes nothing (it is fenced too).
    @Test func fencedWriterPastPrunedSequencesCommitsNothingAndDeletesNothing() async throws {
        let mem = MemoryObjectStore()
        let a = try await StateStore.open(objectStore: mem, options: Self.options(grace: 0))
        try await Self.commitEpoch(a, 1)
        let b = try await StateStore.open(objectStore: mem, options: Self.options(grace: 0))
        for e: Epoch in 10...15 { try await Self.commitEpoch(b, e) }
        let manifestBefore = mem.snapshot().filter { $0.key.hasPrefix("manifest/") }
        #expect(manifestBefore.keys.contains(VersionDelta.objectPath(3)) == false, "the scenario needs A's next sequence pruned")
        let bCheckpoints = Self.checkpoints(mem)
        for e: Epoch in 2...5 {
            let got = await capture { try await Self.commitEpoch(a, e) }
            guard case .failure(.fenced) = got else {
                Issue.record("A's checkpoint of epoch \(e) returned \(got), expected fenced")
                continue
            }
            #expect(a.isFenced)
        }
        let dataBefore = mem.snapshot().keys.filter { $0.hasPrefix("data/") }
        let gc = await capture { try await a.collectGarbage(graceSeconds: 0) }
        guard case .failure(.fenced) = gc else { Issue.record("A's GC: \(gc), expected fenced"); return }
        // Every SST of B is still there; A may only have left orphans of its own.
        let dataAfter = Set(mem.snapshot().keys.filter { $0.hasPrefix("data/") })
        #expect(Set(dataBefore).isSubset(of: dataAfter))
        for (path, bytes) in bCheckpoints { #expect(mem.snapshot()[path] == bytes, "\(path) was overwritten") }
        // B keeps committing on top, and its GC removes A's orphans without touching its own data.
        try await Self.commitEpoch(b, 16)
        try await b.collectGarbage(graceSeconds: 0)
        try await b.close()
        try await Self.expectIntact(mem, epoch: 16, epochs: [1] + Array(10...16), absent: Array(2...5), "after the zombie")
        let referenced = Set(try await ManifestStore(store: mem).loadVersion()!.allSsts.map(\.path))
        let orphans = mem.snapshot().keys.filter { $0.hasPrefix("data/") && !referenced.contains($0) }
        #expect(orphans.isEmpty, "B's GC must remove the fenced writer's orphans: \(orphans)")
    }

    /// The protocol itself: an append on a base whose next sequence was pruned
    /// creates the name, finds the delta before it gone, deletes what it wrote and
    /// reports `lost`; a reader's version never includes it.
    @Test func appendOnAPrunedSequenceIsLostAndRemoved() async throws {
        let mem = MemoryObjectStore()
        let manifest = ManifestStore(store: mem)
        let a = try await StateStore.open(objectStore: mem, options: Self.options())
        let stale = a.currentVersion
        for e: Epoch in 1...8 { try await Self.commitEpoch(a, e) }
        #expect(!mem.snapshot().keys.contains(VersionDelta.objectPath(stale.sequence + 1)))
        let got = await capture {
            try await manifest.commit(from: stale, make: { base in
                VersionDelta(sequence: base.sequence + 1, kind: .register, writerID: base.sequence + 1,
                             committedEpoch: base.committedEpoch, safeEpoch: base.safeEpoch)
            }, onNewer: { _ in nil }, lost: { FloeError.staleCompaction($0) })
        }
        guard case .failure(.staleCompaction) = got else { Issue.record("append on a pruned sequence: \(got)"); return }
        #expect(!mem.snapshot().keys.contains(VersionDelta.objectPath(stale.sequence + 1)), "the stray record must be removed")
        let v = try await manifest.loadVersion()
        #expect(v?.committedEpoch == 8)
        #expect(v?.compactors == [])
        try await a.close()
    }

    // MARK: 2. GC during a standalone compaction that outlasts the grace

    /// The writer's GC runs (grace 0.2 s) while a standalone compactor holds uploaded
    /// outputs past the grace. With its lease renewed, the outputs stay and the
    /// compaction commits; every key stays readable.
    @Test func liveCompactorOutputsOutlastTheWritersGrace() async throws {
        let mem = MemoryObjectStore()
        let w = try await StateStore.open(objectStore: mem, options: Self.options(interval: 64, grace: 0.2))
        for e: Epoch in 1...6 { try await Self.commitEpoch(w, e) }
        let gated = GatedObjectStore(mem)
        let c = try await Compactor.attach(objectStore: gated, options: Self.options(interval: 64, grace: 0.2))
        gated.hold()
        let task = Task { try await c.runOnce() }
        #expect(await gated.waitUntilHeld())
        try await Task.sleep(for: .milliseconds(500))
        let report = try await w.collectGarbage()
        #expect(w.currentVersion.compactors == [c.sessionID], "a compactor whose lease is renewed must not be ended")
        gated.release()
        let result = try await task.value
        #expect(result != nil)
        _ = report
        try await w.close()
        try await Self.expectIntact(mem, epoch: 6, epochs: Array(1...6), "after the compaction")
        let v = try await ManifestStore(store: mem).loadVersion()!
        #expect(v.stats.compactions == 1)
        await c.detach()
    }

    /// The same with the compactor paused (its lease not renewed, as under SIGSTOP):
    /// the writer's GC ends the session with an `expire` record and then deletes its
    /// outputs; when the compactor resumes, its commit is refused as stale, and
    /// nothing is lost.
    @Test func pausedCompactorIsEndedBeforeItsOutputsAreDeleted() async throws {
        let mem = MemoryObjectStore()
        let w = try await StateStore.open(objectStore: mem, options: Self.options(interval: 64, grace: 0.2))
        for e: Epoch in 1...6 { try await Self.commitEpoch(w, e) }
        let gated = GatedObjectStore(mem)
        var co = Self.options(interval: 64, grace: 0.2)
        co.compaction.compactorLeaseRenewSeconds = 3600 // paused: never renewed
        let c = try await Compactor.attach(objectStore: gated, options: co)
        gated.hold()
        let task = Task { try await c.runOnce() }
        #expect(await gated.waitUntilHeld())
        let outputs = mem.snapshot().keys.filter { ObjectGC.sstID($0).map { $0 >> 32 } == c.sessionID }
        #expect(!outputs.isEmpty, "the compactor uploaded its outputs before the append")
        try await Task.sleep(for: .milliseconds(400))
        let report = try await w.collectGarbage()
        #expect(report.deletedObjects >= outputs.count)
        #expect(w.currentVersion.compactors.isEmpty, "the session must be ended before its outputs go")
        for o in outputs { #expect(mem.snapshot()[o] == nil, "\(o) should be deleted once the session ended") }
        gated.release()
        let got = await capture { try await task.value }
        guard case .failure(.staleCompaction) = got else { Issue.record("the ended compactor's commit: \(got)"); return }
        try await w.close()
        try await Self.expectIntact(mem, epoch: 6, epochs: Array(1...6), "after the refused compaction")
        let v = try await ManifestStore(store: mem).loadVersion()!
        #expect(v.stats.compactions == 0)
    }

    // MARK: 3. a standalone compaction whose base sequence was pruned

    /// Checkpoint interval 2: the writer commits six epochs while a standalone
    /// compaction waits at its append, so the compactor's next sequence is pruned.
    /// The compaction is refused as stale (never reported done and lost), and a
    /// fresh open shows exactly the writer's data.
    @Test func compactionIntoAPrunedSequenceIsRefused() async throws {
        let mem = MemoryObjectStore()
        let w = try await StateStore.open(objectStore: mem, options: Self.options())
        for e: Epoch in 1...4 { try await Self.commitEpoch(w, e) }
        let gated = GatedObjectStore(mem)
        let c = try await Compactor.attach(objectStore: gated, options: Self.options())
        let base = try await ManifestStore(store: mem).loadVersion()!
        gated.hold()
        let task = Task { try await c.runOnce() }
        #expect(await gated.waitUntilHeld())
        for e: Epoch in 5...10 { try await Self.commitEpoch(w, e) }
        #expect(!mem.snapshot().keys.contains(VersionDelta.objectPath(base.sequence + 1)), "the scenario needs the sequence pruned")
        gated.release()
        let got = await capture { try await task.value }
        guard case .failure(.staleCompaction) = got else { Issue.record("compaction on a pruned base: \(got)"); return }
        let v = try await ManifestStore(store: mem).loadVersion()!
        #expect(v.stats.compactions == 0)
        #expect(v.l0.count == 10)
        try await w.close()
        try await Self.expectIntact(mem, epoch: 10, epochs: Array(1...10), "after the refused compaction")
    }

    // MARK: 4. a damaged newest checkpoint

    /// The newest checkpoint damaged (one byte, or truncated): open uses the one
    /// before it and the deltas after that, at the right epoch with the right data
    /// and metadata, and `floe verify` names the damaged object.
    @Test(arguments: ["flip", "truncate"])
    func damagedNewestCheckpointFallsBackToTheOneBefore(damage: String) async throws {
        let mem = MemoryObjectStore()
        let w = try await StateStore.open(objectStore: mem, options: Self.options(interval: 3))
        for e: Epoch in 1...12 { try await Self.commitEpoch(w, e) }
        try await w.close()
        let cps = Self.checkpoints(mem).keys.sorted()
        #expect(cps.count == 2)
        let newest = cps.last!
        var bytes = mem.snapshot()[newest]!
        if damage == "flip" { bytes[bytes.count / 2] ^= 0x40 } else { bytes = Array(bytes.prefix(bytes.count - 5)) }
        try await mem.put(newest, bytes)
        let s = try await StateStore.open(objectStore: mem, options: Self.options(interval: 3))
        #expect(s.committedEpoch == 12)
        #expect(s.committedMetadata == ["offset": [12]])
        try await s.close()
        let report = try await StoreVerifier.verify(objectStore: mem)
        #expect(report.problems.contains { $0.object == newest })
        let again = try await StateStore.open(objectStore: mem, options: Self.options(interval: 3))
        for e: Epoch in 1...12 {
            for i in 0..<20 { #expect(try await again.get(Self.table, key: Self.key(e, i), epoch: 12) == Self.value(e, i)) }
        }
        try await again.close()
    }

    // MARK: 5. an idle writer beside a standalone compactor's GC

    /// A writer that only reads follows the manifest: after a standalone compactor
    /// retires the SSTs it reads and its GC deletes them past a short grace, every
    /// get and scan of the writer is still exact.
    @Test func idleWriterMovesOffRetiredSstsBeforeTheyAreDeleted() async throws {
        let mem = MemoryObjectStore()
        var o = Self.options(interval: 64)
        o.compaction.background = true
        o.compaction.l0CompactionTrigger = 100 // only the standalone compactor compacts:
        o.compaction.l0SlowdownSubLevels = 100
        o.compaction.l0StopSubLevels = 100
        o.failpoints = [.compactionBeforeUpload: .error] // not even idle compaction of the writer's lanes
        o.compaction.gcIntervalSeconds = 0.1
        let w = try await StateStore.open(objectStore: mem, options: o)
        for e: Epoch in 1...6 { try await Self.commitEpoch(w, e) }
        for e: Epoch in 1...6 { #expect(try await w.get(Self.table, key: Self.key(e, 0), epoch: 6) == Self.value(e, 0)) }
        let before = Set(try await mem.list(prefix: "data/").map(\.path))
        var co = Self.options(interval: 64)
        co.compaction.l0CompactionTrigger = 2
        let c = try await Compactor.attach(objectStore: mem, options: co)
        var ran = 0
        while try await c.runOnce() != nil { ran += 1 }
        #expect(ran > 0)
        let target = try await ManifestStore(store: mem).loadVersion()!.sequence
        // The writer installs the compactor's version within its follow period (0.1 s here).
        let deadline = ContinuousClock.now + .seconds(5)
        while w.currentVersion.sequence < target && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(w.currentVersion.sequence >= target, "the idle writer must follow the manifest")
        try await Task.sleep(for: .milliseconds(300))
        _ = try await c.collectGarbage(graceSeconds: 0.2)
        // The compacted-away SSTs are gone: deleted by this pass, or (on a loaded
        // machine, where the sleep above stretches) by the writer's own GC first.
        let after = Set(try await mem.list(prefix: "data/").map(\.path))
        #expect(!before.isSubset(of: after), "no retired SST was deleted")
        for e: Epoch in 1...6 {
            for i in 0..<20 { #expect(try await w.get(Self.table, key: Self.key(e, i), epoch: 6) == Self.value(e, i)) }
        }
        var rows = 0
        for try await _ in try await w.scan(Self.table, from: nil, to: nil, epoch: 6) { rows += 1 }
        #expect(rows == 120)
        await c.detach()
        try await w.close()
    }

    /// The same without background work (so without the follow loop): a get whose
    /// SST a standalone compactor's zero-grace GC deleted reads the manifest again
    /// and answers from the newer version.
    @Test func getFollowsTheManifestWhenAnotherProcessDeletedItsSst() async throws {
        let mem = MemoryObjectStore()
        let w = try await StateStore.open(objectStore: mem, options: Self.options(interval: 64))
        for e: Epoch in 1...6 { try await Self.commitEpoch(w, e) }
        let before = w.currentVersion.sequence
        let c = try await Compactor.attach(objectStore: mem, options: Self.options(interval: 64))
        while try await c.runOnce() != nil {}
        try await Task.sleep(for: .milliseconds(20))
        let g = try await c.collectGarbage(graceSeconds: 0)
        #expect(g.deletedObjects > 0, "the scenario needs the writer's SSTs deleted")
        #expect(w.currentVersion.sequence == before, "the writer has not seen the compaction yet")
        for e: Epoch in 1...6 {
            for i in 0..<20 { #expect(try await w.get(Self.table, key: Self.key(e, i), epoch: 6) == Self.value(e, i)) }
        }
        #expect(w.currentVersion.sequence > before)
        await c.detach()
        try await w.close()
    }

    // MARK: settled lower-confidence findings

    /// A fenced writer's own compaction cannot commit on top of the new owner's
    /// open record (it would carry the old owner's watermark).
    @Test func fencedWritersCompactionIsRefused() async throws {
        let mem = MemoryObjectStore()
        let a = try await StateStore.open(objectStore: mem, options: Self.options(interval: 64))
        for e: Epoch in 1...4 { try await Self.commitEpoch(a, e) }
        let b = try await StateStore.open(objectStore: mem, options: Self.options(interval: 64))
        let got = await capture { try await a.compactOnce() }
        switch got {
        case .failure(.staleCompaction), .failure(.fenced): break
        default: Issue.record("a fenced writer's compaction: \(got)")
        }
        #expect(a.isFenced)
        let v = try await ManifestStore(store: mem).loadVersion()!
        #expect(v.stats.compactions == 0)
        #expect(v.writerID == b.writerID)
        try await b.close()
    }

    /// A commit whose record landed but whose acknowledgement was lost, retried
    /// after a standalone compactor appended records on top: the retry is
    /// recognised from the version's last-commit identity and succeeds once.
    @Test func retriedCommitIsRecognisedAfterOthersAppended() async throws {
        let mem = MemoryObjectStore()
        let faulty = FaultInjectingObjectStore(wrapping: mem)
        let w = try await StateStore.open(objectStore: faulty, options: Self.options(interval: 64))
        for e: Epoch in 1...3 { try await Self.commitEpoch(w, e) }
        for i in 0..<20 { try w.put(Self.table, key: Self.key(4, i), value: Self.value(4, i), epoch: 4) }
        try w.seal(epoch: 4)
        let sync = try await w.sync(epoch: 4)
        faulty.addRule(FaultRule(.failAfterApplying, operations: [.createIfAbsent], pathContains: "manifest/", limit: 2))
        let first = await capture { try await w.commit(epoch: 4, sync, metadata: ["offset": [4]]) }
        guard case .failure = first else { Issue.record("the first commit should report its lost acknowledgement: \(first)"); return }
        faulty.removeAllRules()
        let c = try await Compactor.attach(objectStore: mem, options: Self.options(interval: 64))
        var ran = 0
        while try await c.runOnce() != nil { ran += 1 }
        #expect(ran > 0)
        try await w.commit(epoch: 4, sync, metadata: ["offset": [4]])
        #expect(w.committedEpoch == 4)
        try await w.close()
        try await Self.expectIntact(mem, epoch: 4, epochs: Array(1...4), "after the retried commit")
        await c.detach()
    }
}
