import Testing
@testable import Floe

/// The first get after a restart asks the filters of all the cold files on its
/// path at once (`PointReader.askColdFilters`) rather than one sub-level after
/// another, and answers exactly as a get that asks them in turn.
@Suite struct ColdFilterAskTests {
    let table = TableID(1)
    func key(_ i: Int) -> [UInt8] { Array("ck\(String(i).leftPad(6))".utf8) }

    /// `epochs` L0 sub-levels of `keys` random puts each (compaction off), closed;
    /// the store's objects and the model of what it holds.
    func written(epochs: Int, keys: Int, seed: UInt64) async throws -> (MemoryObjectStore, StoreOptions, [Int: [UInt8]]) {
        let objects = MemoryObjectStore()
        var o = StoreOptions()
        o.compaction.background = false
        let writer = try await StateStore.open(objectStore: objects, options: o)
        var rng = SplitMix64(seed: seed)
        var model: [Int: [UInt8]] = [:]
        for e in 1...epochs {
            // Keys 0 and 99,999 in every epoch: each sub-level spans the whole key range.
            for i in [0, 99_999] + (0..<keys).map({ _ in Int(rng.next() % 100_000) }) {
                let v = Array("v\(i)-e\(e)".utf8)
                try writer.put(table, key: key(i), value: v, epoch: Epoch(e))
                model[i] = v
            }
            try await writer.checkpoint(epoch: Epoch(e), metadata: [:])
        }
        #expect(writer.currentVersion.l0.count == epochs, "seed \(seed)")
        try await writer.close()
        return (objects, o, model)
    }

    @Test func firstColdGetAsksEveryFilterOnItsPathAtOnce() async throws {
        for seed: UInt64 in [5, 6] {
            let epochs = 12
            let (objects, o, model) = try await written(epochs: epochs, keys: 500, seed: seed)
            let slow = ReadCountingStore(objects, sstReadDelayMillis: 20)
            let store = try await StateStore.open(objectStore: slow, options: o)
            await store.reader.metadata.stopWarming()
            slow.reset()
            // Never written and inside every sub-level's range: every filter is asked.
            #expect(try await store.get(table, key: key(50_000) + [0x2E], epoch: Epoch(epochs)) == nil, "seed \(seed)")
            // Footer and whole (small) filter of each file, several files in flight at once.
            #expect(slow.reads.load(ordering: .relaxed) == 2 * epochs, "seed \(seed)")
            #expect(slow.maxInFlight.load(ordering: .relaxed) > 1, "seed \(seed): the filters were asked one by one")
            // Every answer agrees with the model afterwards, absent keys included.
            var rng = SplitMix64(seed: seed ^ 0xABC)
            for _ in 0..<300 {
                let i = Int(rng.next() % 100_000)
                #expect(try await store.get(table, key: key(i), epoch: Epoch(epochs)) == model[i], "seed \(seed) key \(i)")
            }
            try await store.close()
        }
    }

    /// Asking ahead does not turn a damaged filter the get never needed into an
    /// error: a key the newest sub-level holds is still read; a key that has to
    /// pass the damaged file still reports it.
    @Test func damagedFilterFurtherOnFailsOnlyTheReadsThatReachIt() async throws {
        let (objects, o, model) = try await written(epochs: 6, keys: 500, seed: 9)
        // Damage the filter of the oldest sub-level, the last file on every path.
        let probe = try await StateStore.open(objectStore: objects, options: o)
        let oldest = try #require(probe.currentVersion.l0.last?.first)
        try await probe.close()
        var bytes = try await objects.get(oldest.path)
        let footer = try SstFooter.decode(Array(bytes[(bytes.count - SstFooter.size)...]), object: oldest.path, fileSize: bytes.count)
        bytes[Int(footer.filterOffset) + 40] ^= 0x10
        try await objects.put(oldest.path, bytes)

        let store = try await StateStore.open(objectStore: objects, options: o)
        // Both keys are rewritten in every epoch, so the newest sub-level answers.
        #expect(try await store.get(table, key: key(0), epoch: 6) == model[0])
        #expect(try await store.get(table, key: key(99_999), epoch: 6) == model[99_999])
        await #expect(throws: FloeError.self) {
            _ = try await store.get(table, key: key(50_000) + [0x2E], epoch: 6)
        }
        try await store.close()
    }
}
