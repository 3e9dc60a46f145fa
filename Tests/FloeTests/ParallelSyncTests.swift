import Testing
@testable import Floe

/// A sync that sorts and builds a large epoch as several key ranges at once
/// (`StoreOptions.syncParallelism`), checked against an in-memory model: seeded
/// epochs of random puts, overwrites and deletes over two tables, some small (one
/// range) and some large enough to split (with the least range size lowered).
/// Each committed sub-level must be files in key order that do not overlap, as
/// many as the ranges; every read at every committed epoch, and again after a
/// reopen, must equal the model.
@Suite struct ParallelSyncTests {
    typealias Model = [UInt32: [[UInt8]: [UInt8]]]

    static func scanAll(_ s: StateStore, _ t: UInt32, at e: Epoch) async throws -> [[UInt8]: [UInt8]] {
        var out: [[UInt8]: [UInt8]] = [:]
        var last: [UInt8]? = nil
        for try await (k, v) in try await s.scan(TableID(t), from: nil, to: nil, epoch: e) {
            if let last { #expect(last.lexicographicallyPrecedes(k), "scan out of order at \(k)") }
            last = k
            out[k] = v
        }
        return out
    }

    static func check(_ s: StateStore, _ model: Model, at e: Epoch, _ what: String) async throws -> Bool {
        for t: UInt32 in [1, 2] {
            let got = try await scanAll(s, t, at: e)
            let want = model[t] ?? [:]
            #expect(got == want, "\(what): table \(t) at epoch \(e) holds \(got.count) rows, the model \(want.count)")
            if got != want { return false }
        }
        return true
    }

    @Test(arguments: [UInt64(1), 2])
    func largeEpochsBuiltAsKeyRangesReadAsTheModel(seed: UInt64) async throws {
        var rng = SplitMix64(seed: seed)
        let mem = MemoryObjectStore()
        var o = StoreOptions()
        o.syncParallelism = 2 + Int(seed % 3)
        o.retentionEpochs = 100
        o.compaction.background = false
        // Ranges of at least 128 KiB, so epochs of about 1 MiB split (in 3 or 4) and
        // the test stays small; the 8 MiB default only scales this.
        o.syncRangeMinBytes = 128 << 10
        let s = try await StateStore.open(objectStore: mem, options: o)
        var model: Model = [:]
        var history: [(Epoch, Model)] = []
        for e in Epoch(1)...4 {
            // Epochs 2 and 3 hold about 1 MiB each: split. The others under 64 KiB: one file.
            let large = e == 2 || e == 3
            let writes = large ? 3_500 : 300
            for _ in 0..<writes {
                let t = UInt32(1 + rng.next() % 2)
                // Keys that share their first 8 bytes often (a tenant and a counter), of varied length.
                let id = rng.next() % 12_000
                let key = Array("tenant-\(id % 3)".utf8) + withUnsafeBytes(of: id.bigEndian) { Array($0) } + [UInt8](repeating: 7, count: Int(rng.next() % 12))
                if rng.next() % 8 == 0 {
                    try s.delete(TableID(t), key: key, epoch: e)
                    model[t]?[key] = nil
                } else {
                    let value = [UInt8](repeating: UInt8(truncatingIfNeeded: rng.next()), count: large ? 200 : 20)
                    try s.put(TableID(t), key: key, value: value, epoch: e)
                    model[t, default: [:]][key] = value
                }
            }
            try await s.checkpoint(epoch: e, metadata: [:])
            let newest = s.currentVersion.l0[0]
            let files = newest.sorted { FullKey.compare($0.smallestKey, $1.smallestKey) < 0 }
            for (a, b) in zip(files, files.dropFirst()) {
                #expect(FullKey.compare(a.largestKey, b.smallestKey) < 0, "seed \(seed) epoch \(e): files \(a.id) and \(b.id) overlap")
            }
            #expect(newest.count == (large ? o.syncParallelism : 1), "seed \(seed) epoch \(e): \(newest.count) files")
            history.append((e, model))
            for (at, m) in history { guard try await Self.check(s, m, at: at, "seed \(seed) after epoch \(e)") else { return } }
        }
        try await s.close()
        let reopened = try await StateStore.open(objectStore: mem, options: o)
        for (at, m) in history { guard try await Self.check(reopened, m, at: at, "seed \(seed) reopened") else { return } }
        try await reopened.close()
    }

    @Test func syncParallelismOutsideItsRangeIsRefused() async throws {
        for bad in [0, -1, 65] {
            var o = StoreOptions()
            o.syncParallelism = bad
            await #expect(throws: FloeError.self, "syncParallelism \(bad)") { _ = try await StateStore.open(objectStore: MemoryObjectStore(), options: o) }
        }
    }
}
