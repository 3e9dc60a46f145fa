import Testing
@testable import Floe

/// Compaction outputs go into the block cache when they fit in its free room,
/// so reads after a compaction stay warm; a full cache is never evicted for them.
@Suite struct BlockCachePrefillTests {
    let t = TableID(3)

    func key(_ i: Int) -> [UInt8] { Array("pk\(String(i).leftPad(6))".utf8) }
    func value(_ i: Int, _ e: Epoch) -> [UInt8] { Array("v\(i)-\(e)-".utf8) + [UInt8](repeating: UInt8(i & 0xff), count: 40) }

    /// A store with every key written in each of 6 epochs, compacted to quiescence
    /// (or, with `whileWriting`, by compactions run as if writes were arriving).
    func compactedStore(cacheBytes: Int, whileWriting: Bool = false) async throws -> (StateStore, Int) {
        var o = StoreOptions()
        o.compaction.background = false
        o.blockCacheBytes = cacheBytes
        o.sst.blockSize = 1024
        o.compaction.l0CompactionTrigger = 2
        let s = try await StateStore.open(objectStore: MemoryObjectStore(), options: o)
        let n = 3000
        for e in Epoch(1)...6 {
            for i in stride(from: Int(e) % 2, to: n, by: 1) { try s.put(t, key: key(i), value: value(i, e), epoch: e) }
            try await s.checkpoint(epoch: e, metadata: [:])
        }
        var tasks = 0
        if whileWriting {
            while try await s.compactOnce(idle: false) != nil { tasks += 1 }
            #expect(s.statistics.l0SubLevels <= 1)
            return (s, n)
        }
        tasks = try await s.compactUntilQuiescent()
        #expect(tasks > 0)
        #expect(s.statistics.l0SubLevels == 0, "the compaction moved everything out of L0")
        return (s, n)
    }

    @Test func readsAfterACompactionHitTheCacheWhenTheOutputsFit() async throws {
        let (s, n) = try await compactedStore(cacheBytes: 64 << 20)
        let before = s.statistics
        for i in 0..<n {
            #expect(try await s.get(t, key: key(i), epoch: 6) == value(i, 6), "key \(i)")
        }
        let after = s.statistics
        #expect(after.blockCacheMisses == before.blockCacheMisses, "every block of the compacted files was cached by the compaction")
        #expect(after.blockCacheHits > before.blockCacheHits)
        try await s.close()
    }

    /// A compacted store, then odd keys overwritten in epoch 7 and every key read
    /// (base blocks and L0 blocks cached), then an idle compaction that moves L0
    /// onto the base: its output replaces every cached block.
    func rewrittenWarmStore(cacheBytes: Int) async throws -> (StateStore, Int) {
        let (s, n) = try await compactedStore(cacheBytes: cacheBytes)
        for i in stride(from: 1, to: n, by: 2) { try s.put(t, key: key(i), value: value(i, 7), epoch: 7) }
        try await s.checkpoint(epoch: 7, metadata: [:])
        for i in 0..<n { _ = try await s.get(t, key: key(i), epoch: 7) }
        #expect(try #require(try await s.compactOnce(idle: true)).task.kind == .l0ToBase)
        return (s, n)
    }

    /// An output that did not fit in the free room while the blocks of its inputs
    /// were still cached is read back after the install evicted them, so the reads
    /// right after the compaction hit the cache.
    @Test func outputsThatDidNotFitBeforeTheInstallAreReadBackAfterIt() async throws {
        // The decoded size of the whole table, from a cache with room for everything.
        let (roomy, _) = try await rewrittenWarmStore(cacheBytes: 64 << 20)
        let table = roomy.statistics.blockCacheBytes
        try await roomy.close()
        #expect(table > 100 << 10)
        // 2.2 tables: the 1.5 cached before the compaction leave no room for the output's 1.
        let (s, n) = try await rewrittenWarmStore(cacheBytes: table * 22 / 10)
        let before = s.statistics
        #expect(before.blockCacheBytes >= table * 9 / 10, "the output was read back: \(before.blockCacheBytes) of \(table)")
        for i in 0..<n {
            #expect(try await s.get(t, key: key(i), epoch: 7) == value(i, i % 2 == 1 ? 7 : 6), "key \(i)")
        }
        #expect(s.statistics.blockCacheMisses == before.blockCacheMisses, "every block of the output was cached")
        try await s.close()
    }

    @Test func compactionsWhileWritesArriveLeaveTheCacheAlone() async throws {
        let (s, n) = try await compactedStore(cacheBytes: 64 << 20, whileWriting: true)
        #expect(s.statistics.compactions > 0)
        let before = s.statistics
        for i in 0..<n {
            #expect(try await s.get(t, key: key(i), epoch: 6) == value(i, 6), "key \(i)")
        }
        #expect(s.statistics.blockCacheMisses > before.blockCacheMisses, "the outputs were not copied into the cache")
        try await s.close()
    }

    @Test func aCacheWithoutRoomIsNotPrefilled() async throws {
        // 16 KiB holds a few 1 KiB blocks, far fewer than the compacted files have.
        let (s, n) = try await compactedStore(cacheBytes: 16 << 10)
        let before = s.statistics
        for i in 0..<n {
            #expect(try await s.get(t, key: key(i), epoch: 6) == value(i, 6), "key \(i)")
        }
        #expect(s.statistics.blockCacheMisses > before.blockCacheMisses, "outputs that do not fit are read from the store")
        try await s.close()
    }
}
