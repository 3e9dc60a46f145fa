import Testing
@testable import Floe

/// The model-based store test for what readers beside the writer and large epochs
/// need (issue 18): random writes with a tiny memtable budget (epochs spill),
/// commits, named checkpoints created and deleted, a follower that refreshes,
/// stores opened at checkpoints, compaction and GC with no grace, reopens. Every
/// read is checked against a plain model: the committed state per epoch and the
/// state each named checkpoint pinned. 200 seeds; a failure prints its seed.
@Suite struct ModelBasedReadersTests {
    typealias State = [ModelKey: [UInt8]]

    static func options() -> StoreOptions {
        var o = StoreOptions()
        o.memtableBudgetBytes = 24 << 10
        o.compaction.background = false
        o.sst.targetFileSize = 8 << 10
        o.sst.blockSize = 1024
        o.compaction.targetFileSize = 8 << 10
        o.compaction.baseLevelBytes = 16 << 10
        o.compaction.l0CompactionTrigger = 2
        o.compaction.maxLevel = 3
        o.manifestCheckpointInterval = 4
        return o
    }

    static func scanAll(_ s: StateStore, at e: Epoch) async throws -> State {
        var out: State = [:]
        for t: UInt32 in 1...2 {
            for row in try await collectRows(s.scan(TableID(t), from: nil, to: nil, epoch: e)) { out[ModelKey(t, row.key)] = row.value }
        }
        return out
    }

    static func write(_ s: StateStore, _ k: ModelKey, _ v: [UInt8]?, _ e: Epoch) async throws {
        while true {
            do {
                if let v { try s.put(TableID(k.table), key: k.key, value: v, epoch: e) } else { try s.delete(TableID(k.table), key: k.key, epoch: e) }
                return
            } catch FloeError.memoryBudgetExceeded {
                try await s.waitForWriteBudget()
            }
        }
    }

    @Test(arguments: modelSeeds(200))
    func randomReadersAgreeWithTheModel(seed: UInt64) async throws {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ 17)
        let mem = MemoryObjectStore()
        var store = try await StateStore.open(objectStore: mem, options: Self.options())
        var committed: State = [:]
        var pending: State = [:]
        var epoch: Epoch = 1
        var pins: [String: (epoch: Epoch, state: State)] = [:]
        var follower: (store: StateStore, epoch: Epoch, state: State)?
        var nextName = 0
        let where_ = "seed \(seed)"
        for step in 0..<18 {
            switch rng.next() % 100 {
            case 0..<45:
                // A burst of writes to the open epoch, sometimes far over the budget.
                let n = rng.next() % 5 == 0 ? 300 + Int(rng.next() % 200) : 1 + Int(rng.next() % 30)
                for _ in 0..<n {
                    let k = ModelKey(UInt32(1 + rng.next() % 2), Array("k\(rng.next() % 500)".utf8))
                    let v: [UInt8]? = rng.next() % 8 == 0 ? nil : (0..<(8 + Int(rng.next() % 90))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                    try await Self.write(store, k, v, epoch)
                    if let v { pending[k] = v } else { pending.removeValue(forKey: k) }
                }
                #expect(try await Self.scanAll(store, at: epoch) == pending, "\(where_) step \(step): own epoch \(epoch)")
            case 45..<65:
                try await store.checkpoint(epoch: epoch, metadata: ["e": Array("\(epoch)".utf8)])
                committed = pending
                epoch += 1
            case 65..<73:
                let name = "c\(nextName)"
                nextName += 1
                let c = try await store.createCheckpoint(name: name)
                #expect(c.epoch == store.committedEpoch, "\(where_)")
                pins[name] = (c.epoch, committed)
            case 73..<78:
                if let name = pins.keys.sorted().first {
                    try await store.deleteCheckpoint(name: name)
                    pins[name] = nil
                }
            case 78..<86:
                if let f = follower {
                    // Its version still reads whole, then it moves to the newest.
                    #expect(try await Self.scanAll(f.store, at: f.epoch) == f.state, "\(where_) step \(step): follower at \(f.epoch)")
                    let e = try await f.store.refresh()
                    #expect(e == store.committedEpoch, "\(where_)")
                    follower = (f.store, e, committed)
                } else {
                    let f = try await StateStore.openReadOnly(objectStore: mem, options: Self.options())
                    follower = (f, f.committedEpoch, committed)
                }
            case 86..<92:
                if let (name, pin) = pins.randomElement(using: &rng) {
                    let r = try await StateStore.openReadOnly(objectStore: mem, checkpoint: name, options: Self.options())
                    #expect(r.committedEpoch == pin.epoch, "\(where_)")
                    #expect(try await Self.scanAll(r, at: pin.epoch) == pin.state, "\(where_) step \(step): checkpoint \(name)")
                    try await r.close()
                }
            case 92..<97:
                _ = try await store.compactUntilQuiescent()
                _ = try await store.collectGarbage(graceSeconds: 0)
            default:
                // A crash: the open epoch is lost, everything committed stays.
                try await store.close()
                store = try await StateStore.open(objectStore: mem, options: Self.options())
                pending = committed
                epoch = store.committedEpoch + 1
                #expect(Set(store.checkpoints.map(\.name)) == Set(pins.keys), "\(where_) step \(step): checkpoints after reopen")
            }
            if store.committedEpoch > 0 {
                #expect(try await Self.scanAll(store, at: store.committedEpoch) == committed, "\(where_) step \(step): committed")
            }
        }
        // After the last GC pass every checkpoint and the follower's version still read whole.
        _ = try await store.compactUntilQuiescent()
        _ = try await store.collectGarbage(graceSeconds: 0)
        for (name, pin) in pins {
            let r = try await StateStore.openReadOnly(objectStore: mem, checkpoint: name, options: Self.options())
            #expect(try await Self.scanAll(r, at: pin.epoch) == pin.state, "\(where_): checkpoint \(name) at the end")
            try await r.close()
        }
        if let f = follower {
            #expect(try await Self.scanAll(f.store, at: f.epoch) == f.state, "\(where_): follower at the end")
            try await f.store.close()
        }
        try await store.close()
    }
}
