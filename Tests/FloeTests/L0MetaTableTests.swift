import Testing
@testable import Floe

/// The per-version table of L0 metas: gets over L0 find each file's filter and
/// index there instead of in the meta cache, commits carry loaded metas over,
/// and compactions drop the metas of files they remove.
@Suite struct L0MetaTableTests {
    let table = TableID(1)

    func key(_ i: Int) -> [UInt8] { Array("key\(String(i).leftPad(6))".utf8) }
    func value(_ i: Int, _ e: Epoch) -> [UInt8] { Array("v\(i)@\(e)".utf8) }

    func filled(_ v: Version) -> Int {
        var n = 0
        for s in v.l0.indices {
            for f in v.l0[s].indices where v.l0Metas.withMeta(v.l0Metas.starts[s] + f, { $0.id == v.l0[s][f].id }) == true { n += 1 }
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
        #expect(v.l0.count == 8 && v.l0Metas.count == 8)
        #expect(filled(v) == 0, "no get has run yet")
        for i in 1..<4_000 { #expect(try await store.get(table, key: key(i), epoch: 8) == expected(i)) }
        #expect(filled(v) == 8)
        let before = store.reader.metaCache.stats
        for i in 1..<4_000 { #expect(try await store.get(table, key: key(i), epoch: 8) == expected(i)) }
        let after = store.reader.metaCache.stats
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
        #expect(vc.l0.isEmpty && vc.l0Metas.count == 0)
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
        let loaded = store.reader.metaCache.stats.misses
        for i in 1..<4_000 { #expect(try await snap.get(table, key: key(i)) == expected(i)) }
        #expect(store.reader.metaCache.stats.misses == loaded, "metas were loaded again despite the table")
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
}
