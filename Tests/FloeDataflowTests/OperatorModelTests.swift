import Floe
import FloeTesting
import Testing
@testable import FloeDataflow

/// Stateful operators driven directly with random inserts and deletes, random
/// barriers, caches that drop everything at every barrier, and restarts from the
/// committed state: their accumulated output must equal a plain in-memory model.
@Suite struct OperatorModelTests {
    /// Applies a chunk of changes to a multiset of text rows; a delete must find its row.
    static func apply(_ c: Chunk, to view: inout [[String]: Int]) -> Bool {
        for r in 0..<c.count {
            let row = c.fields(r)
            if c.op(r) == .insert {
                view[row, default: 0] += 1
            } else {
                guard let n = view[row], n > 0 else { return false }
                view[row] = n == 1 ? nil : n - 1
            }
        }
        return true
    }

    @Test(arguments: ModelSeeds.thinned(Array(1...8) as [UInt64]))
    func aggregateIsExactUnderDeletes(seed: UInt64) async throws {
        var g = SeededGenerator(seed: seed)
        let types: [ColumnType] = [.bytes, .int64, .decimal(scale: 2)]
        let objects = MemoryObjectStore()
        var store = try await StateStore.open(objectStore: objects)
        func make(_ store: StateStore) -> HashAggregate {
            HashAggregate(inputTypes: types, groupBy: [0],
                          calls: [.count(as: "n"), .sum(2, as: "s"), .avg(2, as: "a"), .min(1, as: "lo", table: TableID(8)), .max(2, as: "hi", table: TableID(9))],
                          state: StateTable(store: store, table: TableID(7)), cacheBytes: [1, 3000, 1 << 20][Int(g.next() % 3)])
        }
        var op = make(store)
        var live: [(String, Int64, Int64)] = []   // rows inserted and not deleted
        var view: [[String]: Int] = [:]
        var epoch = store.committedEpoch + 1
        var committedView = view, committedLive = live
        for step in 0..<60 {
            var c = Chunk(types: types)
            for _ in 0..<Int(g.next() % 40) {
                if !live.isEmpty && g.next() % 3 == 0 {
                    let (k, x, a) = live.remove(at: Int(g.next() % UInt64(live.count)))
                    c.appendOp(.delete); c.appendBytes(0, Array(k.utf8)); c.appendInt(1, x); c.appendInt(2, a)
                } else {
                    // Few distinct values, so that extremes repeat and deleting one keeps or moves it.
                    let row = (["a", "b", "c\u{0}", "é", ""][Int(g.next() % 5)], Int64(g.next() % 8) - 3, Int64(g.next() % 200_000) - 50_000)
                    live.append(row)
                    c.appendOp(.insert); c.appendBytes(0, Array(row.0.utf8)); c.appendInt(1, row.1); c.appendInt(2, row.2)
                }
            }
            var out = Chunk(types: op.outputTypes)
            try await op.process(c, input: 0, epoch: epoch, into: &out)
            #expect(out.isEmpty, "seed \(seed): an aggregate emits only at barriers")
            out.removeAll()
            try await op.barrier(ending: epoch, into: &out)
            await op.afterBarrier(epoch)
            #expect(Self.apply(out, to: &view), "seed \(seed) step \(step): a delete of a row the view does not hold")
            // The model: the groups of the live rows.
            var groups: [String: (Int64, Int64)] = [:]
            var lows: [String: Int64] = [:], highs: [String: Int64] = [:]
            for (k, x, a) in live {
                groups[k, default: (0, 0)].0 += 1
                groups[k, default: (0, 0)].1 += a
                lows[k] = min(lows[k] ?? x, x)
                highs[k] = max(highs[k] ?? a, a)
            }
            var expected: [[String]: Int] = [:]
            for (k, v) in groups {
                // avg at scale 6 from cents: sum * 10^4 / count, half away from zero.
                let num = v.1 * 10_000, q = num / v.0, r = num % v.0
                let avg = abs(r) * 2 >= v.0 ? q + (num < 0 ? -1 : 1) : q
                expected[[k, "\(v.0)", ValueText.formatDecimal(v.1, scale: 2), ValueText.formatDecimal(avg, scale: 6), "\(lows[k]!)",
                          ValueText.formatDecimal(highs[k]!, scale: 2)]] = 1
            }
            #expect(view == expected, "seed \(seed) step \(step)")
            try await store.checkpoint(epoch: epoch, metadata: [:])
            epoch += 1
            if g.next() % 5 == 0 {
                // A clean restart: only the committed state survives.
                committedView = view
                committedLive = live
                try await store.close()
                store = try await StateStore.open(objectStore: objects)
                op = make(store)
                view = committedView
                live = committedLive
                epoch = store.committedEpoch + 1
            }
        }
        try await store.close()
    }

    @Test(arguments: ModelSeeds.thinned(Array(1...8) as [UInt64]))
    func joinIsExactUnderDeletesOnBothSides(seed: UInt64) async throws {
        var g = SeededGenerator(seed: seed)
        let lt: [ColumnType] = [.int64, .int64, .bytes]   // id, key, text
        let rt: [ColumnType] = [.int64, .int64]           // id, key
        let objects = MemoryObjectStore()
        var store = try await StateStore.open(objectStore: objects)
        // Writes (rows and row counts) applied after every chunk, after a few, or (mostly) at the barrier.
        let writeThrough = [1, 5, 4096][Int(seed % 3)]
        func make(_ store: StateStore) throws -> HashJoin {
            try HashJoin(left: .init(types: lt, keyColumns: [1], primaryKey: [0]), right: .init(types: rt, keyColumns: [1], primaryKey: [0]),
                         output: [.init(side: 0, column: 0), .init(side: 1, column: 0), .init(side: 0, column: 2), .init(side: 1, column: 1)],
                         leftState: StateTable(store: store, table: TableID(1), writeThroughWrites: writeThrough),
                         rightState: StateTable(store: store, table: TableID(2), writeThroughWrites: writeThrough),
                         degrees: StateTable(store: store, table: TableID(3), writeThroughWrites: writeThrough),
                         cacheBytes: [1, 3000, 1 << 20][Int(g.next() % 3)])
        }
        var op = try make(store)
        var left: [(Int64, Int64, String)] = [], right: [(Int64, Int64)] = []
        var nextID: Int64 = 1
        var view: [[String]: Int] = [:]
        var epoch = store.committedEpoch + 1
        for step in 0..<50 {
            var out = Chunk(types: op.outputTypes)
            for _ in 0..<Int(g.next() % 4) {
                let side = Int(g.next() % 2)
                var c = side == 0 ? Chunk(types: lt) : Chunk(types: rt)
                for _ in 0..<Int(g.next() % 20) {
                    let deleting = g.next() % 3 == 0
                    if side == 0 {
                        if deleting && !left.isEmpty {
                            let row = left.remove(at: Int(g.next() % UInt64(left.count)))
                            c.appendOp(.delete); c.appendInt(0, row.0); c.appendInt(1, row.1); c.appendBytes(2, Array(row.2.utf8))
                        } else {
                            let row = (nextID, Int64(g.next() % 8), ["x", "y,z", ""][Int(g.next() % 3)])
                            nextID += 1
                            left.append(row)
                            c.appendOp(.insert); c.appendInt(0, row.0); c.appendInt(1, row.1); c.appendBytes(2, Array(row.2.utf8))
                        }
                    } else {
                        if deleting && !right.isEmpty {
                            let row = right.remove(at: Int(g.next() % UInt64(right.count)))
                            c.appendOp(.delete); c.appendInt(0, row.0); c.appendInt(1, row.1)
                        } else {
                            let row = (nextID, Int64(g.next() % 8))
                            nextID += 1
                            right.append(row)
                            c.appendOp(.insert); c.appendInt(0, row.0); c.appendInt(1, row.1)
                        }
                    }
                }
                try await op.process(c, input: side, epoch: epoch, into: &out)
            }
            try await op.barrier(ending: epoch, into: &out)
            await op.afterBarrier(epoch)
            #expect(Self.apply(out, to: &view), "seed \(seed) step \(step): a delete of a row the view does not hold")
            var expected: [[String]: Int] = [:]
            for l in left { for r in right where l.1 == r.1 { expected[["\(l.0)", "\(r.0)", l.2, "\(r.1)"], default: 0] += 1 } }
            #expect(view == expected, "seed \(seed) step \(step): \(view.count) rows, expected \(expected.count)")
            try await store.checkpoint(epoch: epoch, metadata: [:])
            epoch += 1
            if g.next() % 5 == 0 {
                try await store.close()
                store = try await StateStore.open(objectStore: objects)
                op = try make(store)
                epoch = store.committedEpoch + 1
            }
        }
        try await store.close()
    }

    @Test func aggregateRefusesARetractionOfAnAbsentRow() async throws {
        let store = try await StateStore.open(objectStore: MemoryObjectStore())
        var op = HashAggregate(inputTypes: [.int64], groupBy: [0], calls: [.count(as: "n")], state: StateTable(store: store, table: TableID(1)))
        var c = Chunk(types: [.int64])
        c.appendOp(.delete); c.appendInt(0, 5)
        var out = Chunk(types: op.outputTypes)
        try await op.process(c, input: 0, epoch: 1, into: &out)
        await #expect(throws: DataflowError.self) { try await op.barrier(ending: 1, into: &out) }
        try await store.close()
    }
}
