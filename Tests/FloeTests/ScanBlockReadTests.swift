import Testing
@testable import Floe

/// How many data blocks reverse scans and seeks touch, counted as block-cache
/// lookups (`StoreStatistics.blockCacheHits + blockCacheMisses`: every block a scan
/// positions in or moves to is one lookup) over a large committed, compacted table
/// with a warm cache, against what a plain forward scan touches.
@Suite struct ScanBlockReadTests {
    static let rows = 20_000

    static func key(_ i: Int) -> [UInt8] { Array("k\(String(i).leftPad(8))".utf8) }

    /// 20 000 rows of ~100 bytes in 4 KiB blocks (hundreds of blocks), committed
    /// over a few epochs and compacted, then read once whole to warm the cache.
    static func table() async throws -> StateStore {
        var o = StoreOptions()
        o.sst.blockSize = 4096
        o.sst.targetFileSize = 256 << 10
        let store = try await StateStore.open(objectStore: MemoryObjectStore(), options: o)
        var epoch: Epoch = 1
        for i in 0..<rows {
            try store.put(TableID(1), key: key(i), value: [UInt8](repeating: UInt8(i & 0xFF), count: 100), epoch: epoch)
            if i % 5_000 == 4_999 {
                try await store.checkpoint(epoch: epoch, metadata: [:])
                epoch += 1
            }
        }
        _ = try await store.compactUntilQuiescent()
        _ = try await collectRows(store.scan(TableID(1), from: nil, to: nil, epoch: store.committedEpoch))
        return store
    }

    static func lookups(_ store: StateStore) -> UInt64 {
        let s = store.statistics
        return s.blockCacheHits + s.blockCacheMisses
    }

    @Test func limitedReverseScanReadsOnlyTheLastBlocks() async throws {
        let store = try await Self.table()
        let e = store.committedEpoch
        let before = Self.lookups(store)
        _ = try await collectRows(store.scan(TableID(1), from: nil, to: nil, epoch: e))
        let whole = Self.lookups(store) - before
        #expect(whole > 200, "the table spans \(whole) blocks")

        var at = Self.lookups(store)
        let last = try await store.scanReverse(TableID(1), from: nil, to: nil, epoch: e, limit: 10)
        let reverse = Self.lookups(store) - at
        #expect(last.map(\.key) == (Self.rows - 10..<Self.rows).reversed().map(Self.key))
        #expect(reverse <= 3, "limit 10 at the table's end looked up \(reverse) of \(whole) blocks")

        // In the middle of the range, and through the prefix path.
        at = Self.lookups(store)
        let middle = try await store.scanReverse(TableID(1), from: nil, to: Self.key(12_345), epoch: e, limit: 10)
        #expect(middle.map(\.key) == (12_335..<12_345).reversed().map(Self.key))
        at = Self.lookups(store) - at
        #expect(at <= 3, "limit 10 before key 12345 looked up \(at) blocks")
        at = Self.lookups(store)
        let prefixed = try await store.scanReverse(TableID(1), prefix: Array("k0001".utf8), epoch: e, limit: 10)
        #expect(prefixed.map(\.key) == (19_990..<20_000).reversed().map(Self.key))
        at = Self.lookups(store) - at
        #expect(at <= 3, "limit 10 of a prefix looked up \(at) blocks")
        try await store.close()
    }

    /// A seek to a key a few rows ahead, after every row, over a span of 2 000 rows
    /// (hundreds of seeks, tens of blocks): stepping the sources looks up no block
    /// a forward scan over the span does not (re-seeking would look up one per seek).
    @Test func shortForwardSeeksReadNoMoreBlocksThanAScan() async throws {
        let store = try await Self.table()
        let e = store.committedEpoch
        var at = Self.lookups(store)
        let span = try await collectRows(store.scan(TableID(1), from: Self.key(5_000), to: Self.key(7_000), epoch: e))
        let scanned = Self.lookups(store) - at
        #expect(span.count == 2_000)

        at = Self.lookups(store)
        var it = try await store.scan(TableID(1), from: Self.key(5_000), to: Self.key(7_000), epoch: e).makeAsyncIterator()
        var i = 5_000, seen = 0
        while let row = try await it.next() {
            #expect(row.key == Self.key(i), "row \(seen) after seeks")
            seen += 1
            i += 3
            it.seek(to: Self.key(i))
        }
        let sought = Self.lookups(store) - at
        #expect(seen == 667)
        #expect(sought <= scanned, "667 short seeks looked up \(sought) blocks, the scan \(scanned)")

        // A seek backwards still lands right.
        var back = try await store.scan(TableID(1), from: nil, to: nil, epoch: e).makeAsyncIterator()
        back.seek(to: Self.key(9_000))
        _ = try await back.next()
        back.seek(to: Self.key(100))
        #expect(try await back.next()?.key == Self.key(100))
        try await store.close()
    }
}
