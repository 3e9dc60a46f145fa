import Testing
@testable import Floe

/// `getMany` against the in-memory model of `ReadModelRun`: at random committed
/// epochs and at the open one, with keys repeated and missing, and each answer
/// also equal to a lone `get`. A failure names `seed S op N`.
@Suite struct BatchedGetTests {
    static let seeds: [UInt64] = Array(0..<200)

    @Test(arguments: seeds)
    func getManyMatchesModel(seed: UInt64) async throws {
        let run = try await ReadModelRun(seed: seed, prefixLength: nil)
        for _ in 0..<60 {
            try await run.step()
            guard run.int(3) == 0 else { continue }
            let (e, map) = run.readEpoch()
            let table = UInt32(1 + run.int(2))
            var keys = (0..<run.int(12)).map { _ in run.randomKey() }
            if let k = keys.first { keys.append(k) }
            let got = try await run.store.getMany(TableID(table), keys: keys, epoch: e)
            let want = keys.map { map[ModelKey(table, $0)] }
            #expect(got == want, "\(run.where_): getMany t\(table) at \(e) of \(keys)")
            for (k, g) in zip(keys, got) {
                let one = try await run.store.get(TableID(table), key: k, epoch: e)
                #expect(one == g, "\(run.where_): get and getMany differ for \(k) at \(e)")
            }
            if e < run.epoch, let snap = try? run.store.snapshot(epoch: e) {
                #expect(try await snap.getMany(TableID(table), keys: keys) == want, "\(run.where_): snapshot getMany at \(e)")
                snap.release()
            }
        }
        try await run.store.close()
    }

    /// Own uncommitted epochs: an open epoch over a sealed one over committed data, and
    /// then a spilled open epoch (tiny budget), each answer equal to the model's.
    @Test(arguments: [UInt64(1), 2, 3])
    func getManySeesOwnSealedOpenAndSpilledEpochs(seed: UInt64) async throws {
        var o = StoreOptions()
        o.memtableBudgetBytes = 16 << 10
        o.compaction.background = false
        let store = try await StateStore.open(objectStore: MemoryObjectStore(), options: o)
        var rng = SplitMix64(seed: seed)
        var views: [Epoch: [ModelKey: [UInt8]]] = [:]
        var map: [ModelKey: [UInt8]] = [:]
        func key() -> [UInt8] { [UInt8(rng.next() % 40)] }
        func write(_ e: Epoch, _ n: Int) async throws {
            for _ in 0..<n {
                try await store.waitForWriteBudget()
                let k = key()
                if rng.next() % 4 == 0 {
                    try store.delete(TableID(1), key: k, epoch: e)
                    map[ModelKey(1, k)] = nil
                } else {
                    let v = (0..<Int(1 + rng.next() % 30)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                    try store.put(TableID(1), key: k, value: v, epoch: e)
                    map[ModelKey(1, k)] = v
                }
            }
            views[e] = map
        }
        func check(_ e: Epoch, _ what: String) async throws {
            let keys = (0..<40).map { [UInt8($0)] }
            let got = try await store.getMany(TableID(1), keys: keys, epoch: e)
            #expect(got == keys.map { views[e]![ModelKey(1, $0)] }, "seed \(seed): \(what) at epoch \(e)")
        }
        try await write(1, 30)
        try await store.checkpoint(epoch: 1, metadata: [:])
        try await write(2, 30)
        try store.seal(epoch: 2)
        try await write(3, 30)
        for e in Epoch(1)...3 { try await check(e, "committed, sealed, open") }
        // Push the open epoch past the budget: it spills.
        try await write(3, 2000)
        try await write(3, 10)
        #expect(store.statistics.spills > 0, "seed \(seed): the open epoch must have spilled")
        for e in Epoch(1)...3 { try await check(e, "after a spill") }
        try await store.close()
    }

    @Test func getManyChecksTheEpochLikeGet() async throws {
        var o = StoreOptions()
        o.retentionEpochs = 0
        let store = try await StateStore.open(objectStore: MemoryObjectStore(), options: o)
        for e in Epoch(1)...3 {
            try store.put(TableID(1), key: [1], value: [UInt8(e)], epoch: e)
            try await store.checkpoint(epoch: e, metadata: [:])
        }
        let viaGet = await capture { try await store.get(TableID(1), key: [1], epoch: 1) }
        let viaMany = await capture { try await store.getMany(TableID(1), keys: [], epoch: 1) }
        guard case let .failure(a) = viaGet, case let .failure(b) = viaMany else {
            Issue.record("a read below the retained window must fail: \(viaGet) \(viaMany)")
            return
        }
        #expect(a == b)
        #expect(try await store.getMany(TableID(1), keys: [[1], [2], [1]], epoch: 3) == [[3], nil, [3]])
        try await store.close()
        let closed = await capture { try await store.getMany(TableID(1), keys: [[1]], epoch: 3) }
        guard case .failure(.closed) = closed else { Issue.record("getMany after close: \(closed)"); return }
    }
}
