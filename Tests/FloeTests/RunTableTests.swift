import Testing
@testable import Floe

/// The per-run tables of a version: gets find each file's filter and index
/// there instead of in the meta cache, commits carry loaded metas over, and
/// compactions drop the metas of files they remove.
@Suite struct RunTableTests {
    let table = TableID(1)

    func key(_ i: Int) -> [UInt8] { Array("key\(String(i).leftPad(6))".utf8) }
    func value(_ i: Int, _ e: Epoch) -> [UInt8] { Array("v\(i)@\(e)".utf8) }
    /// A store compacted to its levels, its files cut at `fileSize`: key i written last
    /// in epoch i % epochs (`epochs` for multiples), with `bigValue`.
    func leveledStore(_ objects: MemoryObjectStore, epochs: Epoch, fileSize: Int) async throws -> (StateStore, StoreOptions) {
        var o = StoreOptions()
        o.compaction.background = false
        o.compaction.targetFileSize = fileSize
        o.sst.targetFileSize = fileSize
        let store = try await StateStore.open(objectStore: objects, options: o)
        for e in Epoch(1)...epochs {
            for i in stride(from: Int(e), to: 4_000, by: Int(epochs)) { try store.put(table, key: key(i), value: bigValue(i, e), epoch: e) }
            try await store.checkpoint(epoch: e, metadata: [:])
        }
        try await store.compactUntilQuiescent()
        return (store, o)
    }

    /// `value` followed by 100 bytes that do not compress: enough data for several level files.
    func bigValue(_ i: Int, _ e: Epoch) -> [UInt8] {
        var rng = SplitMix64(seed: UInt64(i) &* 1_000_003 &+ e)
        return value(i, e) + (0..<100).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    func filled(_ v: Version) -> Int {
        var n = 0
        for s in v.l0.indices {
            for f in v.l0[s].indices where v.runTables[s].withMeta(f, { $0.id == v.l0[s][f].id }) == true { n += 1 }
        }
        return n
    }

    /// Eight sub-levels, key i last written in epoch i % 8 (8 for multiples of 8).
    func expected(_ i: Int) -> [UInt8] { value(i, Epoch(i % 8 == 0 ? 8 : i % 8)) }

    @Test func getsFillTheTableThenSkipTheMetaCache() async throws {
        let objects = MemoryObjectStore()
        var o = StoreOptions()
        o.compaction.background = false
        let store = try await StateStore.open(objectStore: objects, options: o)
        for e in Epoch(1)...8 {
            for i in stride(from: Int(e), to: 4_000, by: 8) { try store.put(table, key: key(i), value: value(i, e), epoch: e) }
            try await store.checkpoint(epoch: e, metadata: [:])
        }
        let v = store.currentVersion
        #expect(v.l0.count == 8 && v.runTables.count == 8)
        #expect(filled(v) == 0, "no get has run yet")
        for i in 1..<4_000 { #expect(try await store.get(table, key: key(i), epoch: 8) == expected(i)) }
        #expect(filled(v) == 8)
        let before = store.reader.metadata.metas.stats
        for i in 1..<4_000 { #expect(try await store.get(table, key: key(i), epoch: 8) == expected(i)) }
        let after = store.reader.metadata.metas.stats
        #expect(after.hits == before.hits && after.misses == before.misses, "a second pass looked metas up in the cache")

        // A commit installs a new version: the eight loaded metas come along, the new file's is not loaded yet.
        try store.put(table, key: key(1), value: value(1, 9), epoch: 9)
        try await store.checkpoint(epoch: 9, metadata: [:])
        let v9 = store.currentVersion
        #expect(v9.l0.count == 9)
        #expect(filled(v9) == 8)
        #expect(try await store.get(table, key: key(1), epoch: 9) == value(1, 9))
        #expect(try await store.get(table, key: key(2), epoch: 9) == expected(2))
        #expect(filled(v9) == 9)

        // Compaction removes all L0 files: the new version's table holds none of them,
        // and reads (now from the base level) still see the newest values.
        try await store.compactUntilQuiescent()
        let vc = store.currentVersion
        #expect(vc.l0.isEmpty && vc.runTables.count == vc.levels.count)
        #expect(try await store.get(table, key: key(1), epoch: 9) == value(1, 9))
        for i in stride(from: 2, to: 4_000, by: 97) { #expect(try await store.get(table, key: key(i), epoch: 9) == expected(i)) }
        try await store.close()
    }

    /// A snapshot pins an older version: its table keeps serving that version's
    /// metas (and values) while newer versions replace and compact its files away.
    @Test func pinnedVersionKeepsItsMetasAcrossCompaction() async throws {
        let objects = MemoryObjectStore()
        var o = StoreOptions()
        o.compaction.background = false
        o.metaCacheBytes = 1  // the meta cache keeps nothing: only the versions' tables hold metas
        let store = try await StateStore.open(objectStore: objects, options: o)
        for e in Epoch(1)...8 {
            for i in stride(from: Int(e), to: 4_000, by: 8) { try store.put(table, key: key(i), value: value(i, e), epoch: e) }
            try await store.checkpoint(epoch: e, metadata: [:])
        }
        let v8 = store.currentVersion
        let snap = try store.snapshot(epoch: 8)
        for i in 1..<4_000 { #expect(try await snap.get(table, key: key(i)) == expected(i)) }
        #expect(filled(v8) == 8)
        let loaded = store.reader.metadata.metas.stats.misses
        for i in 1..<4_000 { #expect(try await snap.get(table, key: key(i)) == expected(i)) }
        #expect(store.reader.metadata.metas.stats.misses == loaded, "metas were loaded again despite the table")
        for i in 1..<4_000 where i % 3 == 0 { try store.put(table, key: key(i), value: value(i, 9), epoch: 9) }
        try await store.checkpoint(epoch: 9, metadata: [:])
        try await store.compactUntilQuiescent()
        #expect(store.currentVersion.l0.isEmpty)
        for i in 1..<4_000 {
            #expect(try await snap.get(table, key: key(i)) == expected(i))
            #expect(try await store.get(table, key: key(i), epoch: 9) == (i % 3 == 0 ? value(i, 9) : expected(i)))
        }
        snap.release()
        try await store.close()
    }

    /// `RunTable.find` against a linear scan of the run's `SstInfo`s, on random
    /// runs of several tables with keys of mixed lengths (prefixes included).
    @Test func findAgreesWithALinearScanOfTheRun() {
        for seed: UInt64 in 1...40 {
            var rng = SplitMix64(seed: seed)
            func userKey() -> [UInt8] { (0..<Int(rng.next() % 4)).map { _ in UInt8(rng.next() % 4) } }
            // Distinct sorted points of (table, user key); consecutive pairs bound the files.
            var points = Set<ModelKey>()
            for _ in 0..<Int(2 + rng.next() % 30) { points.insert(ModelKey(UInt32(rng.next() % 3), userKey())) }
            let sorted = points.sorted()
            var run: [SstInfo] = []
            var i = 0
            while i + 1 < sorted.count {
                let lo = sorted[i], hi = sorted[rng.next() % 2 == 0 ? i : i + 1]
                let e = Epoch(1 + rng.next() % 5)
                run.append(SstInfo(id: UInt64(run.count + 1), fileSize: 1,
                                   smallestKey: FullKey.encode(table: TableID(lo.table), userKey: lo.key, epoch: 9),
                                   largestKey: FullKey.encode(table: TableID(hi.table), userKey: hi.key, epoch: 1),
                                   minEpoch: e, maxEpoch: 9, entryCount: 1, tombstoneCount: 0, rawBytes: 1))
                i += hi == lo ? 1 : 2
            }
            let t = RunTable(run)
            #expect(t.count == run.count && t.files == run, "seed \(seed)")
            for _ in 0..<300 {
                let tb = UInt32(rng.next() % 3), k = userKey(), e = Epoch(rng.next() % 7)
                let want = k.withUnsafeBytes { kb in run.firstIndex { $0.mayContain(table: tb, userKey: kb) && $0.minEpoch <= e } }
                let got = k.withUnsafeBytes { t.find(table: tb, userKey: $0, epoch: e) }
                #expect(got == want, "seed \(seed): table \(tb) key \(k) epoch \(e)")
                if let got { #expect(t.id(got) == run[got].id, "seed \(seed)") }
            }
        }
    }

    /// Level files too: gets fill their tables and then skip the meta cache, a
    /// commit keeps the level tables (same objects, metas and charges), and the
    /// charge of the loaded metas is what the budget holds.
    @Test func levelGetsFillTheirTablesAndCommitsKeepThem() async throws {
        let (store, _) = try await leveledStore(MemoryObjectStore(), epochs: 8, fileSize: 24 << 10)  // several files per level
        let v = store.currentVersion
        #expect(v.l0.isEmpty && v.levels.reduce(0) { $0 + $1.count } > 3, "\(v.levels.map(\.count))")
        func levelCharges(_ v: Version) -> (filled: Int, bytes: Int) {
            var n = 0, bytes = 0
            for t in v.runTables[v.l0.count...] {
                for f in 0..<t.count { if let c = t.withMeta(f, { $0.charge }) { n += 1; bytes += c } }
            }
            return (n, bytes)
        }
        #expect(levelCharges(v).filled == 0, "no get has run yet")
        for i in 1..<4_000 { #expect(try await store.get(table, key: key(i), epoch: 8) == bigValue(i, Epoch(i % 8 == 0 ? 8 : i % 8))) }
        let loaded = levelCharges(v)
        #expect(loaded.filled == v.levels.reduce(0) { $0 + $1.count }, "every level file was read")
        #expect(store.reader.metadata.pinBudget.usedBytes == loaded.bytes)
        let before = store.reader.metadata.metas.stats
        for i in 1..<4_000 { #expect(try await store.get(table, key: key(i), epoch: 8) == bigValue(i, Epoch(i % 8 == 0 ? 8 : i % 8))) }
        let after = store.reader.metadata.metas.stats
        #expect(after.hits == before.hits && after.misses == before.misses, "a second pass looked metas up in the cache")

        // A commit (a new L0 sub-level) shares every level table with the version before.
        try store.put(table, key: key(1), value: bigValue(1, 9), epoch: 9)
        try await store.checkpoint(epoch: 9, metadata: [:])
        let v9 = store.currentVersion
        #expect(v9.l0.count == 1 && v9.runTables.count == v.runTables.count + 1)
        for (a, b) in zip(v.runTables, v9.runTables[1...]) { #expect(a === b) }
        #expect(store.reader.metadata.pinBudget.usedBytes == loaded.bytes, "a shared table was charged again")
        #expect(try await store.get(table, key: key(1), epoch: 9) == bigValue(1, 9))
        #expect(try await store.get(table, key: key(2), epoch: 9) == bigValue(2, 2))
        try await store.close()
    }

    /// With room for few metas, level tables keep no more than the budget, gets
    /// stay right (through the meta cache), and the charges of tables that no
    /// version uses any more are given back.
    @Test func metaPinBudgetBoundsLevelMetasAndIsGivenBack() async throws {
        let objects = MemoryObjectStore()
        var (store0, o) = try await leveledStore(objects, epochs: 4, fileSize: 16 << 10)
        let files = store0.currentVersion.levels.flatMap { $0 }
        try await store0.close()
        #expect(files.count >= 6, "\(files.count) level files")
        // Room for about a third of the metas.
        let one = try await SstMetadataCache.loadMeta(store: objects, id: files[0].id, object: files[0].path, fileSize: Int(files[0].fileSize)).charge
        o.metaCacheBytes = one * files.count / 3
        let store = try await StateStore.open(objectStore: objects, options: o)
        let budget = store.reader.metadata.pinBudget
        func expected4(_ i: Int) -> [UInt8] { bigValue(i, Epoch(i % 4 == 0 ? 4 : i % 4)) }
        for i in 1..<4_000 { #expect(try await store.get(table, key: key(i), epoch: 4) == expected4(i)) }
        #expect(budget.usedBytes > 0 && budget.usedBytes <= budget.limit, "\(budget.usedBytes) of \(budget.limit)")
        for i in stride(from: 1, to: 4_000, by: 7) { #expect(try await store.get(table, key: key(i), epoch: 4) == expected4(i)) }

        // Rewrite everything and compact: the old level tables die with their version,
        // and what stays charged is exactly what the current tables hold.
        for i in 1..<4_000 { try store.put(table, key: key(i), value: bigValue(i, 5), epoch: 5) }
        try await store.checkpoint(epoch: 5, metadata: [:])
        try await store.compactUntilQuiescent()
        for i in stride(from: 1, to: 4_000, by: 3) { #expect(try await store.get(table, key: key(i), epoch: 5) == bigValue(i, 5)) }
        let v = store.currentVersion
        var held = 0
        for t in v.runTables[v.l0.count...] { for f in 0..<t.count { held += t.withMeta(f) { $0.charge } ?? 0 } }
        #expect(budget.usedBytes == held && held <= budget.limit, "charged \(budget.usedBytes), tables hold \(held)")
        try await store.close()
    }

    /// Gets of the committed epoch take the published version without the store's
    /// lock: with a writer committing (and compacting) beside them, each must see
    /// exactly the epoch it asked for, never a torn or stale one. Seeded.
    @Test func getsWithoutTheStoreLockSeeExactlyTheirEpochWhileCommitsLand() async throws {
        for seed: UInt64 in [11, 12] {
            let objects = MemoryObjectStore()
            var o = StoreOptions()
            o.retentionEpochs = 1_000  // every epoch read stays readable
            o.compaction.l0CompactionTrigger = 2
            let store = try await StateStore.open(objectStore: objects, options: o)
            let keys = 600, epochs = 60
            // Epoch e rewrites a seeded random third of the keys: key i at epoch e holds
            // the value of the last epoch <= e that wrote it.
            var rng = SplitMix64(seed: seed)
            var lastWrite = [[Epoch]](repeating: [Epoch](repeating: 0, count: keys), count: epochs + 1)
            var writes: [[Int]] = [[]]
            for e in 1...epochs {
                lastWrite[e] = lastWrite[e - 1]
                var w: [Int] = []
                for i in 0..<keys where e == 1 || rng.next() % 3 == 0 {
                    w.append(i)
                    lastWrite[e][i] = Epoch(e)
                }
                writes.append(w)
            }
            let plan = lastWrite, epochWrites = writes
            let writer = Task {
                for e in 1...epochs {
                    for i in epochWrites[e] { try store.put(table, key: key(i), value: value(i, Epoch(e)), epoch: Epoch(e)) }
                    try await store.checkpoint(epoch: Epoch(e), metadata: [:])
                }
            }
            let checked = try await withThrowingTaskGroup(of: Int.self) { group in
                for r in 0..<2 {
                    group.addTask {
                        var rng = SplitMix64(seed: seed &* 31 &+ UInt64(r))
                        var n = 0
                        // A get of cached data never suspends: yield every round, or two readers
                        // could hold both threads of the executor and starve the writer.
                        while store.committedEpoch < Epoch(epochs) || n < 500 {
                            await Task.yield()
                            let e = store.committedEpoch
                            guard e > 0 else { continue }
                            let i = Int(rng.next() % UInt64(keys))
                            let got = try await store.get(table, key: key(i), epoch: e)
                            let want = value(i, plan[Int(e)][i])
                            if got != want {
                                Issue.record("seed \(seed): key \(i) at epoch \(e) read \(got.map { String(decoding: $0, as: UTF8.self) } ?? "nil")")
                                return n
                            }
                            n += 1
                        }
                        return n
                    }
                }
                return try await group.reduce(0, +)
            }
            try await writer.value
            #expect(checked >= 1_000, "seed \(seed)")
            try await store.close()
            #expect(await floeError { _ = try await store.get(table, key: key(1), epoch: Epoch(epochs)) } == .closed, "seed \(seed)")
        }
    }
}
