import Floe
import Testing
@testable import FloeDataflow

/// `HashJoin` state cleaning driven directly: closed windows hidden from the
/// epoch after the barrier that closed them (so another instance still in that
/// epoch reads them), and interval expiry removing exactly the rows whose expiry
/// value the watermark passed, without output.
@Suite struct JoinCleaningTests {
    static func chunk(_ types: [ColumnType], _ rows: [[Int64]], op: ChangeOp = .insert) -> Chunk {
        var c = Chunk(types: types)
        for r in rows {
            c.appendOp(op)
            for (i, v) in r.enumerated() { c.appendInt(i, v) }
        }
        return c
    }

    static func rows(_ store: StateStore, _ table: TableID, epoch: Epoch) async throws -> Int {
        var n = 0
        try await store.scan(table, from: nil, to: nil, epoch: epoch).forEachRow { _, _ in
            n += 1
            return true
        }
        return n
    }

    static func fields(_ c: Chunk) -> [[String]] {
        (0..<c.count).map { [c.op($0) == .insert ? "+" : "-"] + c.fields($0) }.sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// Both sides: (window start, id, payload); joined on (window start, id), window size 10.
    static let types: [ColumnType] = [.int64, .int64, .int64]

    static func windowJoin(_ store: StateStore) throws -> HashJoin {
        let side = HashJoin.Side(types: types, keyColumns: [0, 1], primaryKey: [0, 1, 2])
        return try HashJoin(left: side, right: side, output: [.init(side: 0, column: 0), .init(side: 0, column: 2), .init(side: 1, column: 2)],
                            leftState: StateTable(store: store, table: TableID(1)), rightState: StateTable(store: store, table: TableID(2)),
                            degrees: StateTable(store: store, table: TableID(3)), cacheBytes: 1, cleaning: JoinWindowCleaning(sizeMicros: 10))
    }

    @Test func closedWindowsAreHiddenFromTheNextEpochOnAndEmitNothing() async throws {
        let store = try await StateStore.open(objectStore: MemoryObjectStore())
        var a = try Self.windowJoin(store), b = try Self.windowJoin(store)
        var out = Chunk(types: a.outputTypes)
        // Epoch 1: left rows of windows 0 and 100, a right row of window 0.
        try await a.process(Self.chunk(Self.types, [[0, 7, 1], [100, 7, 2]]), input: 0, epoch: 1, into: &out)
        try await a.process(Self.chunk(Self.types, [[0, 7, 3]]), input: 1, epoch: 1, into: &out)
        try await a.barrier(ending: 1, watermark: Watermark.none, into: &out)
        await a.afterBarrier(1)
        #expect(Self.fields(out) == [["+", "0", "1", "3"]])
        // Epoch 2: a passes the barrier whose watermark 50 closes window 0, and emits nothing for it ...
        out.removeAll()
        try await a.barrier(ending: 2, watermark: 50, into: &out)
        await a.afterBarrier(2)
        #expect(out.isEmpty, "cleaning must not retract")
        // ... while b, with an empty cache, still joins a right row of window 0 sent before that barrier.
        try await b.process(Self.chunk(Self.types, [[0, 7, 4]]), input: 1, epoch: 2, into: &out)
        try await b.barrier(ending: 2, watermark: 50, into: &out)
        await b.afterBarrier(2)
        #expect(Self.fields(out) == [["+", "0", "1", "4"]], "window 0 must still be readable at epoch 2")
        // From epoch 3 on only window 100 is left: one left row, no right row, one key count.
        for (table, atTwo, atThree) in [(TableID(1), 2, 1), (TableID(2), 2, 0), (TableID(3), 2, 1)] {
            #expect(try await Self.rows(store, table, epoch: 2) == atTwo, "table \(table) at epoch 2")
            #expect(try await Self.rows(store, table, epoch: 3) == atThree, "table \(table) at epoch 3")
        }
        // Window 100 still joins.
        out.removeAll()
        try await a.process(Self.chunk(Self.types, [[100, 7, 5]]), input: 1, epoch: 3, into: &out)
        try await a.barrier(ending: 3, watermark: 60, into: &out)
        await a.afterBarrier(3)
        #expect(Self.fields(out) == [["+", "100", "2", "5"]])
        try await store.close()
    }

    /// Left: auction (id, expires); right: bid (auction, time, key). Auctions expire at
    /// `expires`, bids at their time.
    static let auctionTypes: [ColumnType] = [.int64, .timestamp]
    static let bidTypes: [ColumnType] = [.int64, .timestamp, .int64]

    static func intervalJoin(_ store: StateStore, cacheBytes: Int) throws -> HashJoin {
        try HashJoin(left: .init(types: auctionTypes, keyColumns: [0], primaryKey: [0]), right: .init(types: bidTypes, keyColumns: [0], primaryKey: [2]),
                     output: [.init(side: 0, column: 0), .init(side: 1, column: 2)],
                     leftState: StateTable(store: store, table: TableID(1)), rightState: StateTable(store: store, table: TableID(2)),
                     degrees: StateTable(store: store, table: TableID(3)), cacheBytes: cacheBytes,
                     expiry: JoinExpiry(columns: [1, 1], tables: [TableID(4), TableID(5)]))
    }

    @Test(arguments: [1, 64 << 20]) func expiredRowsLeaveStateWithoutOutput(cacheBytes: Int) async throws {
        let store = try await StateStore.open(objectStore: MemoryObjectStore())
        var j = try Self.intervalJoin(store, cacheBytes: cacheBytes)
        var out = Chunk(types: j.outputTypes)
        // Auctions 1 (expires 100) and 2 (expires 300); bids on 1 at 50 and 60, on 2 at 55.
        try await j.process(Self.chunk(Self.auctionTypes, [[1, 100], [2, 300]]), input: 0, epoch: 1, into: &out)
        try await j.process(Self.chunk(Self.bidTypes, [[1, 50, 10], [1, 60, 11], [2, 55, 12]]), input: 1, epoch: 1, into: &out)
        try await j.barrier(ending: 1, watermark: Watermark.none, into: &out)
        await j.afterBarrier(1)
        #expect(Self.fields(out) == [["+", "1", "10"], ["+", "1", "11"], ["+", "2", "12"]])
        // A deleted bid leaves its index too: it must not be removed twice.
        out.removeAll()
        try await j.process(Self.chunk(Self.bidTypes, [[1, 60, 11]], op: .delete), input: 1, epoch: 2, into: &out)
        try await j.barrier(ending: 2, watermark: 58, into: &out)
        await j.afterBarrier(2)
        #expect(Self.fields(out) == [["-", "1", "11"]], "only the delete's retraction")
        // Watermark 58 expired the bids at 50 and 55; no auction expired.
        #expect(try await Self.rows(store, TableID(1), epoch: 2) == 2)
        #expect(try await Self.rows(store, TableID(2), epoch: 2) == 0)
        #expect(try await Self.rows(store, TableID(5), epoch: 3) == 0, "the bids' index entries are hidden")
        #expect(try await Self.rows(store, TableID(4), epoch: 3) == 2)
        // A later bid on auction 1 joins it (the auction is still there), not the expired bids.
        out.removeAll()
        try await j.process(Self.chunk(Self.bidTypes, [[1, 70, 13]]), input: 1, epoch: 3, into: &out)
        try await j.barrier(ending: 3, watermark: 101, into: &out)
        await j.afterBarrier(3)
        #expect(Self.fields(out) == [["+", "1", "13"]])
        // Watermark 101: auction 1 (expires 100) and the bid at 70 are gone, auction 2 stays; key 1's count is gone.
        #expect(try await Self.rows(store, TableID(1), epoch: 3) == 1)
        #expect(try await Self.rows(store, TableID(2), epoch: 3) == 0)
        #expect(try await Self.rows(store, TableID(3), epoch: 3) == 1)
        #expect(try await Self.rows(store, TableID(4), epoch: 4) == 1)
        // A new bid on auction 1 finds nothing to join; one on auction 2 does.
        out.removeAll()
        try await j.process(Self.chunk(Self.bidTypes, [[1, 120, 14], [2, 130, 15]]), input: 1, epoch: 4, into: &out)
        try await j.barrier(ending: 4, watermark: 125, into: &out)
        await j.afterBarrier(4)
        #expect(Self.fields(out) == [["+", "2", "15"]])
        // A restarted instance (empty memory) goes on from the store: watermark 400 expires the rest.
        var k = try Self.intervalJoin(store, cacheBytes: cacheBytes)
        out.removeAll()
        try await k.barrier(ending: 5, watermark: 400, into: &out)
        await k.afterBarrier(5)
        #expect(out.isEmpty)
        for t in 1...3 { #expect(try await Self.rows(store, TableID(UInt32(t)), epoch: 5) == 0, "table \(t) at epoch 5") }
        for t in 4...5 { #expect(try await Self.rows(store, TableID(UInt32(t)), epoch: 6) == 0, "index \(t) at epoch 6") }
        try await store.close()
    }
}
