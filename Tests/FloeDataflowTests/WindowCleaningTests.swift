import Floe
import Testing
@testable import FloeDataflow

/// A `HashAggregate` that cleans closed windows, driven directly: its table
/// watermark must not hide a group from another instance that still builds the
/// epoch of the barrier that closed it, and it must hide the group from the next
/// epoch on, in its table and its `min` table.
@Suite struct WindowCleaningTests {
    /// Input: category, window start, amount; grouped by (category, window start).
    static let types: [ColumnType] = [.bytes, .int64, .int64]
    static let size: Int64 = 10

    static func rows(_ rows: [(String, Int64, Int64)]) -> Chunk {
        var c = Chunk(types: types)
        for (k, start, amount) in rows {
            c.appendOp(.insert)
            c.appendBytes(0, Array(k.utf8))
            c.appendInt(1, start)
            c.appendInt(2, amount)
        }
        return c
    }

    static func make(_ store: StateStore) -> HashAggregate {
        HashAggregate(inputTypes: types, groupBy: [0, 1], calls: [.count(as: "n"), .min(2, as: "lo", table: TableID(2))],
                      state: StateTable(store: store, table: TableID(1)), cacheBytes: 1,
                      cleaning: WindowCleaning(groupIndex: 1, sizeMicros: size))
    }

    static func keys(_ store: StateStore, _ table: TableID, epoch: Epoch) async throws -> Int {
        var n = 0
        try await store.scan(table, from: nil, to: nil, epoch: epoch).forEachRow { _, _ in
            n += 1
            return true
        }
        return n
    }

    @Test func anInstanceStillInTheEpochReadsTheGroupsItsBarrierCloses() async throws {
        let store = try await StateStore.open(objectStore: MemoryObjectStore())
        var a = Self.make(store), b = Self.make(store)
        var out = Chunk(types: a.outputTypes)
        // Epoch 1: windows 0 and 100 get a row each.
        try await a.process(Self.rows([("x", 0, 5), ("x", 100, 7)]), input: 0, epoch: 1, into: &out)
        try await a.barrier(ending: 1, watermark: Watermark.none, into: &out)
        await a.afterBarrier(1)
        #expect(out.count == 2)
        // Epoch 2: instance a passes the barrier whose watermark 50 closes window 0 ...
        out.removeAll()
        try await a.barrier(ending: 2, watermark: 50, into: &out)
        await a.afterBarrier(2)
        #expect(out.isEmpty)
        // ... while instance b, with an empty cache, still gets a row of window 0 sent before that barrier.
        try await b.process(Self.rows([("x", 0, 3)]), input: 0, epoch: 2, into: &out)
        try await b.barrier(ending: 2, watermark: 50, into: &out)
        await b.afterBarrier(2)
        #expect((0..<out.count).map { [out.op($0) == .insert ? "+" : "-"] + out.fields($0) } == [["-", "x", "0", "1", "5"], ["+", "x", "0", "2", "3"]],
                "the second row of window 0 must update its group")
        // From epoch 3 on window 0 is gone from both tables; window 100 stays; epoch 2 still sees both.
        for (table, atTwo, atThree) in [(TableID(1), 2, 1), (TableID(2), 3, 1)] {
            #expect(try await Self.keys(store, table, epoch: 2) == atTwo, "table \(table) at epoch 2")
            #expect(try await Self.keys(store, table, epoch: 3) == atThree, "table \(table) at epoch 3")
        }
        try await store.close()
    }

    /// The state key holds the window start right after the virtual node; the
    /// output keeps the group columns' order and equals an aggregate's without
    /// cleaning.
    @Test(arguments: 1...3)
    func cleaningKeysByWindowStartAndKeepsTheOutput(seed: UInt64) async throws {
        var g = SeededGenerator(seed: seed)
        let store = try await StateStore.open(objectStore: MemoryObjectStore())
        var cleaning = Self.make(store)
        var plain = HashAggregate(inputTypes: Self.types, groupBy: [0, 1], calls: [.count(as: "n"), .min(2, as: "lo", table: TableID(4))],
                                  state: StateTable(store: store, table: TableID(3)))
        var mark: Int64 = 0
        for epoch in Epoch(1)...20 {
            // Rows of the windows the watermark has not closed.
            let rows = (0..<Int(g.next() % 20)).map { _ in
                (["a", "b", "c"][Int(g.next() % 3)], mark - mark % Self.size + Int64(g.next() % 4) * Self.size, Int64(g.next() % 100))
            }
            var x = Chunk(types: cleaning.outputTypes), y = Chunk(types: plain.outputTypes)
            try await cleaning.process(Self.rows(rows), input: 0, epoch: epoch, into: &x)
            try await plain.process(Self.rows(rows), input: 0, epoch: epoch, into: &y)
            try await cleaning.barrier(ending: epoch, watermark: mark, into: &x)
            await cleaning.afterBarrier(epoch)
            try await plain.barrier(ending: epoch, watermark: mark, into: &y)
            await plain.afterBarrier(epoch)
            #expect((0..<x.count).map { x.fields($0) } == (0..<y.count).map { y.fields($0) }, "seed \(seed) epoch \(epoch)")
            mark += Int64(g.next() % 15)
        }
        var starts: [Int64] = []
        try await store.scan(TableID(1), from: nil, to: nil, epoch: 20).forEachRow { k, _ in
            var at = KeyEncoding.virtualNodeBytes
            starts.append(KeyEncoding.readInt64(Array(k), &at)!)
            return true
        }
        #expect(!starts.isEmpty && starts.allSatisfy { $0 % Self.size == 0 }, "seed \(seed): window starts \(starts)")
        try await store.close()
    }
}
