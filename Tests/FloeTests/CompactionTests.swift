import Testing
import Synchronization
@testable import Floe
import FloeTesting

/// Compaction, MVCC garbage collection and object GC, driven step by step
/// (background compaction off) so every assertion sees a known shape.
@Suite struct CompactionTests {
    let t = TableID(7)

    func key(_ i: Int) -> [UInt8] { Array("k\(String(i).leftPad(5))".utf8) }

    func smallOptions(retention: UInt64 = 0) -> StoreOptions {
        var o = StoreOptions()
        o.compaction.background = false
        o.sst.blockSize = 512
        o.sst.targetFileSize = 8 << 10
        o.compaction.targetFileSize = 16 << 10
        o.compaction.baseLevelBytes = 32 << 10
        o.compaction.l0CompactionTrigger = 2
        o.compaction.intraL0Trigger = 4
        o.retentionEpochs = retention
        return o
    }

    /// Writes `epochs` epochs of random puts/deletes over `keys` keys and returns
    /// the model: the full map after each committed epoch.
    func fill(_ s: StateStore, epochs: ClosedRange<Epoch>, keys: Int, seed: UInt64,
              model: inout [Epoch: [Int: [UInt8]]], compactEvery: Int = 0, ops: Int = 40) async throws {
        var rng = SplitMix64(seed: seed)
        var current = model[model.keys.max() ?? 0] ?? [:]
        for e in epochs {
            for _ in 0..<ops {
                let k = Int(rng.next() % UInt64(keys))
                if rng.next() % 4 == 0 {
                    try s.delete(t, key: key(k), epoch: e)
                    current[k] = nil
                } else {
                    let v = Array("v\(k)@\(e)#\(rng.next() % 1000)".utf8) + [UInt8](repeating: UInt8(e % 251), count: Int(rng.next() % 60))
                    try s.put(t, key: key(k), value: v, epoch: e)
                    current[k] = v
                }
            }
            try await s.checkpoint(epoch: e, metadata: [:])
            model[e] = current
            if compactEvery > 0 && Int(e) % compactEvery == 0 { try await s.compactUntilQuiescent() }
        }
    }

    func check(_ s: StateStore, _ model: [Int: [UInt8]], epoch: Epoch, keys: Int, _ note: String) async throws {
        for k in 0..<keys {
            let got = try await s.get(t, key: key(k), epoch: epoch)
            #expect(got == model[k], "\(note): key \(k) at epoch \(epoch)")
        }
        var rows: [([UInt8], [UInt8])] = []
        for try await r in try await s.scan(t, from: nil, to: nil, epoch: epoch) { rows.append(r) }
        let want = model.keys.sorted().map { (key($0), model[$0]!) }
        #expect(rows.map(\.0) == want.map(\.0), "\(note): scan keys at epoch \(epoch)")
        #expect(rows.map(\.1) == want.map(\.1), "\(note): scan values at epoch \(epoch)")
    }

    @Test(arguments: 0..<8)
    func compactionKeepsEveryRetainedEpochExact(seed: Int) async throws {
        let mem = MemoryObjectStore()
        let s = try await StateStore.open(objectStore: mem, options: smallOptions(retention: 10))
        var model: [Epoch: [Int: [UInt8]]] = [:]
        try await fill(s, epochs: 1...40, keys: 300, seed: UInt64(seed), model: &model, compactEvery: 3)
        try await s.compactUntilQuiescent()
        let st = s.statistics
        #expect(st.compactions > 0, "seed \(seed): compaction ran")
        #expect(st.l0SubLevels < 4, "seed \(seed): L0 stays bounded (\(st.l0SubLevels))")
        for e in Epoch(30)...40 { try await check(s, model[e]!, epoch: e, keys: 300, "seed \(seed)") }
        // Below the window reads throw, never answer.
        await #expect(throws: FloeError.self) { _ = try await s.get(t, key: key(1), epoch: 5) }
        let report = try await StoreVerifier.verify(objectStore: mem)
        #expect(report.isClean, "seed \(seed): \(report.problems)")
    }

    /// With no writes arriving, a deep L0 in front of a much larger base level is
    /// first merged into one sub-level (cheap, and reads stop probing every
    /// sub-level at once), then moved down. While writes arrive, L0 goes straight
    /// to the base level as before.
    @Test(arguments: [false, true])
    func idleDeepL0IsFlattenedBeforeItMovesDown(idle: Bool) async throws {
        var o = smallOptions()
        o.compaction.baseLevelBytes = 4 << 20 // one level holds the base, so L0 overlaps all of it
        o.compaction.targetFileSize = 1 << 20
        o.compaction.l0CompactionTrigger = 4
        o.compaction.l0SlowdownSubLevels = 12
        o.compaction.intraL0Trigger = 6
        let mem = MemoryObjectStore()
        let s = try await StateStore.open(objectStore: mem, options: o)
        var model: [Epoch: [Int: [UInt8]]] = [:]
        try await fill(s, epochs: 1...120, keys: 3000, seed: 5, model: &model)
        try await s.compactUntilQuiescent()
        #expect(s.statistics.l0SubLevels == 0)
        try await fill(s, epochs: 121...128, keys: 3000, seed: 6, model: &model)
        let st = s.statistics
        #expect(st.l0SubLevels == 8)
        let first = try #require(try await s.compactOnce(idle: idle), "idle \(idle)")
        if idle {
            #expect(first.task.kind == .intraL0, "\(first.task.kind)")
            #expect(first.task.inputs.count == 8 && first.task.inputs.allSatisfy { $0.level == 0 })
            #expect(s.statistics.l0SubLevels == 1)
            try await check(s, model[128]!, epoch: 128, keys: 3000, "after flattening L0")
            let second = try #require(try await s.compactOnce(idle: true))
            #expect(second.task.kind == .l0ToBase, "\(second.task.kind)")
        } else {
            #expect(first.task.kind == .l0ToBase, "\(first.task.kind)")
        }
        #expect(s.statistics.l0SubLevels == 0)
        try await check(s, model[128]!, epoch: 128, keys: 3000, "idle \(idle): after L0 moved down")
        let report = try await StoreVerifier.verify(objectStore: mem)
        #expect(report.isClean, "\(report.problems)")
    }

    /// An idle L0 of a few large sub-levels and many small ones, over a base level
    /// too big to rewrite now, merges the small ones first (here a run in the middle
    /// of L0, between large sub-levels), so a get soon probes a handful of
    /// sub-levels, and only then merges everything into one, which it holds. Every
    /// step must keep the newest version of each key on top.
    @Test(arguments: 0..<3)
    func idleL0MergesItsSmallSubLevelsFirst(seed: Int) async throws {
        let o = smallOptions()
        let mem = MemoryObjectStore()
        let s = try await StateStore.open(objectStore: mem, options: o)
        var model: [Epoch: [Int: [UInt8]]] = [:]
        let base = UInt64(seed) * 10
        try await fill(s, epochs: 1...4, keys: 5000, seed: base, model: &model, ops: 2500)
        try await s.compactUntilQuiescent()
        #expect(s.statistics.l0SubLevels == 0, "seed \(seed)")
        try await fill(s, epochs: 5...6, keys: 5000, seed: base + 1, model: &model, ops: 800)
        try await fill(s, epochs: 7...16, keys: 5000, seed: base + 2, model: &model, ops: 10)
        try await fill(s, epochs: 17...17, keys: 5000, seed: base + 3, model: &model, ops: 800)
        let before = s.currentVersion.l0
        #expect(before.count == 13, "seed \(seed)")
        let first = try #require(try await s.compactOnce(idle: true, settled: false, intraL0Only: false))
        #expect(first.task.kind == .intraL0, "seed \(seed): \(first.task.kind)")
        // L0 is newest first: the ten small epochs (16...7) sit at 1...10.
        #expect(first.task.inputs.map { $0.ssts.map(\.id) } == before[1...10].map { $0.map(\.id) }, "seed \(seed)")
        #expect(s.statistics.l0SubLevels == 4, "seed \(seed)")
        try await check(s, model[17]!, epoch: 17, keys: 5000, "seed \(seed): after merging the small sub-levels")
        let second = try #require(try await s.compactOnce(idle: true, settled: false, intraL0Only: false))
        #expect(second.task.kind == .intraL0 && second.task.inputs.count == 4, "seed \(seed): \(second.task.kind)")
        #expect(s.statistics.l0SubLevels == 1, "seed \(seed)")
        #expect(try await s.compactOnce(idle: true, settled: false, intraL0Only: false) == nil, "seed \(seed): held")
        try await check(s, model[17]!, epoch: 17, keys: 5000, "seed \(seed): after merging all of L0")
        let report = try await StoreVerifier.verify(objectStore: mem)
        #expect(report.isClean, "seed \(seed): \(report.problems)")
    }

    /// An idle L0 over a base level holding under half its bytes moves down at once
    /// (one sorted run for reads), instead of being merged into one sub-level and held
    /// there until writes settle: the base rewrite then costs little.
    @Test(arguments: 0..<3)
    func idleL0OverASmallBaseMovesDown(seed: Int) async throws {
        let o = smallOptions()
        let mem = MemoryObjectStore()
        let s = try await StateStore.open(objectStore: mem, options: o)
        var model: [Epoch: [Int: [UInt8]]] = [:]
        let base = UInt64(seed) * 10 + 5
        try await fill(s, epochs: 1...1, keys: 2000, seed: base, model: &model, ops: 100)
        try await s.compactUntilQuiescent()
        let baseBytes = s.statistics.sstBytes
        try await fill(s, epochs: 2...9, keys: 2000, seed: base + 1, model: &model, ops: 300)
        let st = s.statistics
        #expect(st.l0SubLevels == 8 && st.sstBytes - baseBytes >= 2 * baseBytes, "seed \(seed): \(st.sstBytes) over \(baseBytes)")
        let r = try #require(try await s.compactOnce(idle: true, settled: false, intraL0Only: false))
        #expect(r.task.kind == .l0ToBase && r.task.inputs.filter { $0.level == 0 }.count == 8, "seed \(seed): \(r.task.kind)")
        #expect(s.statistics.l0SubLevels == 0, "seed \(seed)")
        try await check(s, model[9]!, epoch: 9, keys: 2000, "seed \(seed): after L0 moved down")
        let report = try await StoreVerifier.verify(objectStore: mem)
        #expect(report.isClean, "seed \(seed): \(report.problems)")
    }

    /// Once commits pause, L0 is merged into one sub-level and held there; it moves
    /// down only once writes have settled (`settleSeconds`): that move rewrites the
    /// base level under the reads that follow a restart or a burst of writes.
    @Test func leftoverL0WaitsUntilWritesSettle() async throws {
        let o = smallOptions()
        let mem = MemoryObjectStore()
        let s = try await StateStore.open(objectStore: mem, options: o)
        var model: [Epoch: [Int: [UInt8]]] = [:]
        try await fill(s, epochs: 1...40, keys: 2000, seed: 9, model: &model)
        try await s.compactUntilQuiescent()
        // Three sub-levels: over the L0 trigger (2 here), under the intra-L0 flatten (4).
        try await fill(s, epochs: 41...43, keys: 2000, seed: 10, model: &model)
        #expect(s.statistics.l0SubLevels == 3)
        // Idle, not settled: L0 becomes one sub-level, and stays there.
        let flat = try #require(try await s.compactOnce(idle: true, settled: false, intraL0Only: false))
        #expect(flat.task.kind == .intraL0 && flat.task.inputs.count == 3, "\(flat.task.kind)")
        #expect(s.statistics.l0SubLevels == 1)
        #expect(try await s.compactOnce(idle: true, settled: false, intraL0Only: false) == nil)
        #expect(s.statistics.l0SubLevels == 1)
        try await check(s, model[43]!, epoch: 43, keys: 2000, "after flattening L0")
        let moved = try #require(try await s.compactOnce(idle: true, settled: true, intraL0Only: false))
        #expect(moved.task.kind == .l0ToBase, "\(moved.task.kind)")
        #expect(s.statistics.l0SubLevels == 0)
        try await check(s, model[43]!, epoch: 43, keys: 2000, "after the settled move")
        try await s.close()

        // No base level yet: L0 moves down whether writes arrive or not (idle, there
        // is no base to keep from a rewrite).
        for idle in [false, true] {
            let fresh = try await StateStore.open(objectStore: MemoryObjectStore(), options: o)
            var m: [Epoch: [Int: [UInt8]]] = [:]
            try await fill(fresh, epochs: 1...3, keys: 2000, seed: 12, model: &m)
            #expect(fresh.statistics.l0SubLevels == 3)
            let r = try await fresh.compactOnce(idle: idle, settled: false, intraL0Only: false)
            #expect(r?.task.kind == .l0ToBase, "idle \(idle): \(String(describing: r?.task.kind))")
            #expect(fresh.statistics.l0SubLevels == 0, "idle \(idle)")
            try await check(fresh, m[3]!, epoch: 3, keys: 2000, "idle \(idle): after L0 moved down")
            try await fresh.close()
        }

        // The settle period counts from the last commit, or from open when there was none.
        #expect(!StateStore.commitsPaused(now: 5_000_000, lastCommit: 1_000_000, forMicros: 10_000_000))
        #expect(StateStore.commitsPaused(now: 12_000_000, lastCommit: 1_000_000, forMicros: 10_000_000))
        var bad = o
        bad.compaction.settleSeconds = -1
        await #expect(throws: FloeError.self) { _ = try await StateStore.open(objectStore: MemoryObjectStore(), options: bad) }
    }

    /// The background loop reads the clock, then the last commit time a writer on
    /// another thread may have stored after that read. A commit stamped after
    /// `now` is "not idle", not a UInt64 underflow trap (it killed a crashtest
    /// worker with SIGILL once).
    @Test func idleCheckToleratesACommitStampedAfterTheClockRead() {
        #expect(!StateStore.commitsPaused(now: 5_000_000, lastCommit: 5_000_007))
        #expect(!StateStore.commitsPaused(now: 5_000_000, lastCommit: 4_500_000))
        #expect(!StateStore.commitsPaused(now: 5_000_000, lastCommit: 4_000_000))
        #expect(StateStore.commitsPaused(now: 5_000_000, lastCommit: 3_999_999))
        #expect(StateStore.commitsPaused(now: 5_000_000, lastCommit: 0))
        #expect(!StateStore.commitsPaused(now: 5_000_000, lastCommit: .max))
    }

    @Test func oldVersionsAndTombstonesAreDroppedAtTheBottom() async throws {
        let mem = MemoryObjectStore()
        var o = smallOptions()
        o.compaction.maxLevel = 2
        let s = try await StateStore.open(objectStore: mem, options: o)
        // 100 keys, each overwritten 10 times, then half deleted.
        for e in Epoch(1)...10 {
            for k in 0..<100 { try s.put(t, key: key(k), value: Array("v\(e)".utf8), epoch: e) }
            try await s.checkpoint(epoch: e, metadata: [:])
        }
        for k in 0..<50 { try s.delete(t, key: key(k), epoch: 11) }
        try await s.checkpoint(epoch: 11, metadata: [:])
        let before = s.currentVersion.allSsts.reduce(0) { $0 + $1.entryCount }
        #expect(before == 1050)
        try await s.compactUntilQuiescent()
        // Force everything to the bottom: keep compacting until L0 is empty.
        var v = s.currentVersion
        var rounds = 0
        while !v.l0.isEmpty && rounds < 20 {
            var oo = o
            oo.compaction.l0CompactionTrigger = 1
            let task = CompactionPicker(options: oo.compaction, sst: oo.sst).pick(v, watermark: s.watermark(v))
            guard let task else { break }
            let r = try await CompactionExecutor.run(task, reader: s.reader, store: mem, options: oo.sst) { s.nextSstID() }
            s.install(try await CompactionCommitter.commit(r, base: s.currentVersion, manifest: s.manifest, compactorID: s.writerID))
            v = s.currentVersion
            rounds += 1
        }
        #expect(v.l0.isEmpty)
        let after = v.allSsts.reduce(0) { $0 + $1.entryCount }
        // Watermark = committed epoch: one version per live key, no tombstones at the bottom.
        #expect(after == 50, "entries after full compaction: \(after)")
        #expect(v.allSsts.allSatisfy { $0.tombstoneCount == 0 })
        for k in 0..<100 {
            #expect(try await s.get(t, key: key(k), epoch: 11) == (k < 50 ? nil : Array("v10".utf8)))
        }
    }

    @Test func snapshotPinsVersionsAcrossCompactionAndGC() async throws {
        let mem = MemoryObjectStore()
        let s = try await StateStore.open(objectStore: mem, options: smallOptions())
        var model: [Epoch: [Int: [UInt8]]] = [:]
        try await fill(s, epochs: 1...6, keys: 200, seed: 99, model: &model)
        let snap = try s.snapshot(epoch: 6)
        try await fill(s, epochs: 7...30, keys: 200, seed: 100, model: &model, compactEvery: 2)
        try await s.compactUntilQuiescent()
        // Retired SSTs the snapshot still references must survive GC with zero grace.
        _ = try await s.collectGarbage(graceSeconds: 0)
        for k in 0..<200 { #expect(try await snap.get(t, key: key(k)) == model[6]![k], "snapshot key \(k)") }
        // The store itself reads the pinned epoch even below the (zero) retention window.
        try await check(s, model[6]!, epoch: 6, keys: 200, "pinned epoch")
        snap.release()
        let gc = try await s.collectGarbage(graceSeconds: 0)
        #expect(gc.deletedObjects > 0, "released snapshot's SSTs are collected")
        await #expect(throws: FloeError.self) { _ = try await s.get(t, key: key(1), epoch: 6) }
        try await check(s, model[30]!, epoch: 30, keys: 200, "latest after GC")
        let report = try await StoreVerifier.verify(objectStore: mem)
        #expect(report.isClean, "\(report.problems)")
        #expect(report.warnings.isEmpty, "no orphans left: \(report.warnings)")
    }

    @Test func gcRemovesOrphansOfFailedUploadsButNeverReferencedObjects() async throws {
        let inner = MemoryObjectStore()
        let faulty = FaultInjectingObjectStore(wrapping: inner, seed: 5)
        var o = smallOptions()
        o.compaction.targetFileSize = 4096
        let s = try await StateStore.open(objectStore: faulty, options: o)
        var model: [Epoch: [Int: [UInt8]]] = [:]
        try await fill(s, epochs: 1...30, keys: 600, seed: 1, model: &model)
        #expect(s.currentVersion.allSsts.reduce(0) { $0 + $1.fileSize } > 3 * 4096, "enough data for several outputs")
        // A compaction whose second output upload fails leaves its first output orphaned.
        faulty.addRule(FaultRule(.fail, operations: [.put], pathContains: "data/", skip: 1, limit: 1))
        await #expect(throws: FloeError.self) { try await s.compactUntilQuiescent() }
        faulty.removeAllRules()
        // GC with random delete and list failures never removes a referenced object.
        faulty.addRule(FaultRule(.fail, operations: [.delete, .list], probability: 0.3))
        for _ in 0..<10 { _ = try? await s.collectGarbage(graceSeconds: 0) }
        faulty.removeAllRules()
        _ = try await s.collectGarbage(graceSeconds: 0)
        try await check(s, model[30]!, epoch: 30, keys: 600, "after failed compaction and GC")
        let report = try await StoreVerifier.verify(objectStore: inner)
        #expect(report.isClean, "\(report.problems)")
        #expect(report.warnings.isEmpty, "orphans collected: \(report.warnings)")
        try await s.compactUntilQuiescent()
        try await check(s, model[30]!, epoch: 30, keys: 600, "after retried compaction")
    }

    /// An SST uploaded while a GC pass with zero grace is reading the manifest
    /// is not deleted: the pass judges by the moment it started (found by the
    /// power-loss runs, where GC ran every 2 ms beside syncs and compactions).
    @Test func gcWithZeroGraceKeepsAnUploadThatLandsDuringItsPass() async throws {
        let inner = MemoryObjectStore()
        let faulty = FaultInjectingObjectStore(wrapping: inner, seed: 6)
        let s = try await StateStore.open(objectStore: faulty, options: smallOptions())
        try s.put(t, key: key(1), value: [1], epoch: 1)
        try await s.checkpoint(epoch: 1, metadata: [:])
        try s.put(t, key: key(2), value: [2], epoch: 2)
        try s.seal(epoch: 2)
        // The pass's manifest listing waits; the sync uploads meanwhile.
        let listsBefore = faulty.operationCount(.list)
        faulty.addRule(FaultRule(.delay(milliseconds: 300), operations: [.list], pathContains: "manifest/", limit: 1))
        async let gc = s.collectGarbage(graceSeconds: 0)
        try await Task.sleep(for: .milliseconds(100))
        let r = try await s.sync(epoch: 2)
        #expect(faulty.operationCount(.list) == listsBefore + 1, "the GC pass is still waiting in its manifest listing")
        let report = try await gc
        #expect(report.deletedObjects == 0)
        try await s.commit(epoch: 2, r, metadata: [:])
        for sst in r.ssts { #expect(try await inner.size(sst.path) == Int(sst.fileSize), "\(sst.path) kept") }
        #expect(try await s.get(t, key: key(2), epoch: 2) == [2])
        #expect(try await StoreVerifier.verify(objectStore: inner).isClean)
    }

    @Test func randomFaultsDuringCompactionAndGCNeverLoseData() async throws {
        for seed in UInt64(0)..<6 {
            let inner = MemoryObjectStore()
            let faulty = FaultInjectingObjectStore(wrapping: inner, seed: seed)
            let s = try await StateStore.open(objectStore: faulty, options: smallOptions())
            var model: [Epoch: [Int: [UInt8]]] = [:]
            try await fill(s, epochs: 1...12, keys: 150, seed: seed, model: &model)
            faulty.addRule(FaultRule(.fail, operations: [.put, .get, .delete, .list, .createIfAbsent], pathContains: "", probability: 0.15))
            for _ in 0..<30 {
                _ = try? await s.compactOnce()
                _ = try? await s.collectGarbage(graceSeconds: 0)
            }
            faulty.removeAllRules()
            try await check(s, model[12]!, epoch: 12, keys: 150, "seed \(seed) live store")
            let reopened = try await StateStore.open(objectStore: inner, options: smallOptions())
            try await check(reopened, model[12]!, epoch: 12, keys: 150, "seed \(seed) reopened")
            let report = try await StoreVerifier.verify(objectStore: inner)
            #expect(report.isClean, "seed \(seed): \(report.problems)")
        }
    }

    @Test func stalledCommitSurfacesCompactionFailureInsteadOfHanging() async throws {
        let inner = MemoryObjectStore()
        let faulty = FaultInjectingObjectStore(wrapping: inner, seed: 3)
        var o = smallOptions()
        o.compaction.background = true
        o.compaction.l0CompactionTrigger = 2
        o.compaction.l0SlowdownSubLevels = 3
        o.compaction.l0StopSubLevels = 4
        let s = try await StateStore.open(objectStore: faulty, options: o)
        // Compaction reads fail from now on; syncs (puts) and commits still work.
        faulty.addRule(FaultRule(.fail, operations: [.get], pathContains: "data/"))
        var failure: FloeError?
        for e in Epoch(1)...20 {
            try s.put(t, key: key(Int(e)), value: [1], epoch: e)
            do { try await s.checkpoint(epoch: e, metadata: [:]) } catch let err as FloeError { failure = err; break }
        }
        guard case .compactionFailed = failure else {
            Issue.record("expected compactionFailed, got \(String(describing: failure))")
            return
        }
        #expect(s.statistics.l0SubLevels >= 4)
        // Once reads work again the background worker catches up and commits flow.
        faulty.removeAllRules()
        for _ in 0..<5000 where s.statistics.l0SubLevels >= 4 || s.statistics.compactionError != nil {
            try await Task.sleep(for: .milliseconds(1))
        }
        #expect(s.statistics.l0SubLevels < 4)
        try s.put(t, key: key(999), value: [2], epoch: 100)
        try await s.checkpoint(epoch: 100, metadata: [:])
        #expect(try await s.get(t, key: key(999), epoch: 100) == [2])
        try await s.close()
    }
}

/// Two writers (the second fences the first mid-run) race a standalone
/// compactor: every epoch a writer saw committed survives, in order, and no
/// write of the fenced writer after the fence is visible.
@Suite struct WritersRaceCompactorTests {
    let t = TableID(3)

    func key(_ i: Int) -> [UInt8] { Array("r\(String(i).leftPad(4))".utf8) }

    @Test(arguments: 0..<6)
    func noCommittedEpochIsLost(seed: Int) async throws {
        let mem = MemoryObjectStore()
        var o = StoreOptions()
        o.compaction.background = false
        o.retentionEpochs = 1_000
        o.sst.targetFileSize = 4096
        o.compaction.targetFileSize = 4096
        o.compaction.baseLevelBytes = 8192
        o.compaction.l0CompactionTrigger = 2
        let a = try await StateStore.open(objectStore: mem, options: o)
        let compactor = try await Compactor.attach(objectStore: mem, options: o)
        // The compactor runs continuously beside the writers.
        let stop = ManagedFlag()
        let rounds = ManagedCounter()
        let compacting = Task {
            var tasks = 0
            while !stop.isSet {
                do { if try await compactor.runOnce() != nil { tasks += 1 } } catch FloeError.staleCompaction {}
                rounds.increment()
                await Task.yield()
            }
            return tasks
        }
        var rng = SplitMix64(seed: UInt64(seed))
        // Writer A: each key's value names the epoch that wrote it; 20 keys per epoch over 200 keys.
        var acknowledged: [Epoch: [Int: Epoch]] = [:]
        var state: [Int: Epoch] = [:]
        let fenceAt = Epoch(10 + rng.next() % 15)
        var b: StateStore?
        var aFencedAt: Epoch?
        for e in Epoch(1)...60 {
            if e == fenceAt { b = try await StateStore.open(objectStore: mem, options: o) }
            let writer = b ?? a
            var next = state
            for _ in 0..<20 {
                let k = Int(rng.next() % 200)
                next[k] = e
                try writer.put(t, key: key(k), value: Array("e\(e)".utf8), epoch: e)
            }
            try await writer.checkpoint(epoch: e, metadata: ["epoch": Array("\(e)".utf8)])
            state = next
            // Let the compactor finish a round now and then, so the two really interleave.
            if e % 3 == 0 {
                let seen = rounds.value
                while rounds.value == seen { await Task.yield() }
            }
            acknowledged[e] = state
            if b != nil && aFencedAt == nil {
                // The fenced writer tries once more: its commit must fail and stay invisible.
                let ae = e + 1_000
                try? a.put(t, key: key(0), value: Array("zombie".utf8), epoch: ae)
                do {
                    try await a.checkpoint(epoch: ae, metadata: [:])
                    Issue.record("seed \(seed): fenced writer committed epoch \(ae)")
                } catch let err as FloeError {
                    guard case .fenced = err else { Issue.record("seed \(seed): fenced writer got \(err)"); continue }
                    aFencedAt = e
                }
            }
        }
        stop.set()
        let tasks = try await compacting.value
        #expect(tasks > 0, "seed \(seed): the compactor ran")
        #expect(aFencedAt != nil, "seed \(seed): writer A was fenced")
        // A fresh process sees every acknowledged epoch exactly.
        let c = try await StateStore.open(objectStore: mem, options: o)
        #expect(c.committedEpoch == 60)
        for e in stride(from: Epoch(1), through: 60, by: 7) {
            let want = acknowledged[e]!
            for k in 0..<200 {
                let got = try await c.get(t, key: key(k), epoch: e)
                #expect(got == want[k].map { Array("e\($0)".utf8) }, "seed \(seed): key \(k) at epoch \(e)")
            }
        }
        let report = try await StoreVerifier.verify(objectStore: mem)
        #expect(report.isClean, "seed \(seed): \(report.problems)")
    }
}

/// A flag shared between a test and a task it started.
final class ManagedFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

/// A counter shared between a test and a task it started.
final class ManagedCounter: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .acquiring) }
    func increment() { count.add(1, ordering: .releasing) }
}

/// The overwrite-and-delete workload at unit-test scale (the full 1,000,000-key
/// run is `floe bench --workload overwrite --max-space-amp 1.3`, run by CI).
@Suite struct OverwriteWorkloadTests {
    @Test func overwritesAndDeletesCompactToLiveSize() async throws {
        let keys = 20_000
        var o = StoreOptions()
        o.compaction.background = false
        o.sst.targetFileSize = 64 << 10
        o.compaction.targetFileSize = 64 << 10
        o.compaction.baseLevelBytes = 256 << 10
        let s = try await StateStore.open(objectStore: MemoryObjectStore(), options: o)
        let t = TableID(1)
        var rng = SplitMix64(seed: 77)
        func key(_ k: Int) -> [UInt8] { Array("key-\(String(k).leftPad(8))".utf8) }
        var live: [Int: [UInt8]] = [:]
        var ops: [(Int, Bool)] = (0..<keys).map { ($0, false) }
        ops += (0..<(keys / 2)).map { _ in (Int(rng.next() % UInt64(keys)), false) }
        ops += (0..<(keys / 5)).map { _ in (Int(rng.next() % UInt64(keys)), true) }
        var epoch: Epoch = 0
        for (i, (k, del)) in ops.enumerated() {
            if i % 1000 == 0 { epoch += 1 }
            if del {
                try s.delete(t, key: key(k), epoch: epoch)
                live[k] = nil
            } else {
                let v = (0..<100).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                try s.put(t, key: key(k), value: v, epoch: epoch)
                live[k] = v
            }
            if i % 1000 == 999 {
                try await s.checkpoint(epoch: epoch, metadata: [:])
                if epoch % 4 == 0 { try await s.compactUntilQuiescent() }
            }
        }
        if s.committedEpoch < epoch { try await s.checkpoint(epoch: epoch, metadata: [:]) }
        try await s.compactUntilQuiescent()
        for k in 0..<keys { #expect(try await s.get(t, key: key(k), epoch: epoch) == live[k], "key \(k)") }
        var n = 0
        for try await (k, v) in try await s.scan(t, from: nil, to: nil, epoch: epoch) {
            let id = Int(String(decoding: k.dropFirst(4), as: UTF8.self))!
            #expect(live[id] == v, "scan row \(n)")
            n += 1
        }
        #expect(n == live.count)
        let liveRaw = live.reduce(UInt64(0)) { $0 + UInt64(key($1.key).count + 12 + $1.value.count + 1) }
        let st = s.statistics
        let amp = Double(st.sstRawBytes) / Double(liveRaw)
        #expect(amp <= 1.3, "uncompressed space amplification \(amp)")
        #expect(st.compactions > 0 && st.writeAmplification > 1)
    }
}
