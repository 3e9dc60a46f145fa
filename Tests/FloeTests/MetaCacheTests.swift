import Testing
@testable import Floe

@Suite struct MetaCacheTests {
    let table = TableID(1)

    func key(_ i: Int) -> [UInt8] { Array("key\(String(i).leftPad(6))".utf8) }
    func value(_ i: Int, _ e: Epoch) -> [UInt8] { Array("v\(i)@\(e)".utf8) }

    /// Eight L0 SSTs whose metas together exactly fill the meta cache: every meta
    /// stays cached, so a second pass over all keys loads none. (With the cache
    /// split into 16 shards of capacity / 16 each, no meta fit a shard and every
    /// probe reloaded it.)
    @Test func metaCacheSizedForAllMetasKeepsThemAll() async throws {
        let objects = MemoryObjectStore()
        var o = StoreOptions()
        o.compaction.background = false
        o.metaCacheBytes = 1 << 20
        let writer = try await StateStore.open(objectStore: objects, options: o)
        for e in Epoch(1)...8 {
            for i in stride(from: Int(e), to: 4_000, by: 8) { try writer.put(table, key: key(i), value: value(i, e), epoch: e) }
            try await writer.checkpoint(epoch: e, metadata: [:])
        }
        for i in 1..<4_000 { #expect(try await writer.get(table, key: key(i), epoch: 8) == value(i, Epoch(i % 8 == 0 ? 8 : i % 8))) }
        let full = writer.reader.metadata.metas.stats
        #expect(full.entryCount == 8)
        try await writer.close()

        o.metaCacheBytes = full.usageBytes
        let reader = try await StateStore.open(objectStore: objects, options: o)
        for i in 1..<4_000 { #expect(try await reader.get(table, key: key(i), epoch: 8) == value(i, Epoch(i % 8 == 0 ? 8 : i % 8))) }
        let first = reader.reader.metadata.metas.stats
        #expect(first.inserts == 8, "each meta loads once")
        #expect(first.entryCount == 8 && first.usageBytes == full.usageBytes)
        // Gets over L0 now find metas in the version's own table; ask the cache directly.
        for sst in reader.currentVersion.allSsts { #expect(reader.reader.metadata.metas.get(sst.id) != nil, "meta of \(sst.id) evicted") }
        for i in 1..<4_000 { #expect(try await reader.get(table, key: key(i), epoch: 8) == value(i, Epoch(i % 8 == 0 ? 8 : i % 8))) }
        let second = reader.reader.metadata.metas.stats
        #expect(second.inserts == 8 && second.misses == first.misses, "no meta reloaded on the second pass")
        #expect(second.hits == first.hits + 8)
        #expect(second.evictions == 0)
    }
}
