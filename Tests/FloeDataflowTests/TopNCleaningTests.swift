import Floe
import FloeTesting
import Testing
@testable import FloeDataflow

/// A `TopN` grouped by (category, window start) that cleans closed windows,
/// driven directly next to one that does not: the same output at every barrier
/// (cleaning emits nothing), its state keyed by window start first, and from the
/// epoch after each barrier only the rows of open windows left in its table.
@Suite struct TopNCleaningTests {
    /// category, window start, price, id
    static let types: [ColumnType] = [.bytes, .int64, .int64, .int64]
    static let size: Int64 = 10

    static func make(_ store: StateStore, table: UInt32, cleaning: WindowCleaning?) -> TopN {
        TopN(inputTypes: types, groupBy: [0, 1], order: [.init(column: 2, descending: true)], primaryKey: [3], limit: 2,
             state: StateTable(store: store, table: TableID(table)), cacheBytes: 1, cleaning: cleaning)
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func closedWindowsLeaveStateAndTheOutputStays(seed: UInt64) async throws {
        var g = SeededGenerator(seed: seed)
        let store = try await StateStore.open(objectStore: MemoryObjectStore())
        var cleaned = Self.make(store, table: 1, cleaning: WindowCleaning(groupIndex: 1, sizeMicros: Self.size))
        var plain = Self.make(store, table: 2, cleaning: nil)
        var mark: Int64 = 0
        var live: [(category: String, start: Int64)] = []
        var id: Int64 = 0
        for epoch in Epoch(1)...25 {
            var c = Chunk(types: Self.types)
            // Rows of windows the watermark has not closed (start + size > mark).
            for _ in 0..<Int(g.next() % 12) {
                let start = mark - mark % Self.size + Int64(g.next() % 3) * Self.size
                let category = ["a", "b"][Int(g.next() % 2)]
                id += 1
                c.appendOp(.insert)
                c.appendBytes(0, Array(category.utf8))
                c.appendInt(1, start)
                c.appendInt(2, Int64(g.next() % 50))
                c.appendInt(3, id)
                live.append((category, start))
            }
            var x = Chunk(types: cleaned.outputTypes), y = Chunk(types: plain.outputTypes)
            try await cleaned.process(c, input: 0, epoch: epoch, into: &x)
            try await plain.process(c, input: 0, epoch: epoch, into: &y)
            try await cleaned.barrier(ending: epoch, watermark: mark, into: &x)
            await cleaned.afterBarrier(epoch)
            try await plain.barrier(ending: epoch, watermark: mark, into: &y)
            await plain.afterBarrier(epoch)
            let ox = (0..<x.count).map { [x.op($0) == .insert ? "+" : "-"] + x.fields($0) }
            let oy = (0..<y.count).map { [y.op($0) == .insert ? "+" : "-"] + y.fields($0) }
            #expect(ox.sorted { $0.lexicographicallyPrecedes($1) } == oy.sorted { $0.lexicographicallyPrecedes($1) }, "seed \(seed) epoch \(epoch)")
            // From the next epoch on the table holds the rows of open windows only, window start first.
            let open = mark - Self.size + 1
            var starts: [Int64] = []
            try await store.scan(TableID(1), from: nil, to: nil, epoch: epoch + 1).forEachRow { k, _ in
                var at = KeyEncoding.virtualNodeBytes
                starts.append(KeyEncoding.readInt64(Array(k), &at)!)
                return true
            }
            #expect(starts.count == live.filter { $0.start >= open }.count && starts.allSatisfy { $0 >= open && $0 % Self.size == 0 },
                    "seed \(seed) epoch \(epoch): \(starts.count) rows, \(live.filter { $0.start >= open }.count) in open windows")
            mark += Int64(g.next() % 8)
        }
        var all = 0
        try await store.scan(TableID(2), from: nil, to: nil, epoch: 26).forEachRow { _, _ in
            all += 1
            return true
        }
        #expect(all == live.count, "seed \(seed): the plain top-N keeps every row")
        try await store.close()
    }
}
