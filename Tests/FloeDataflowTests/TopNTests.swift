import Floe
import Testing
@testable import FloeDataflow

/// `TopN` driven directly with random inserts and deletes (deletes often hit the
/// current top rows), random barriers, caches that drop everything at every
/// barrier, and restarts from the committed state: its accumulated output must
/// equal, at every barrier, the first `limit` rows of every group of the live
/// rows, ordered by (price desc, time asc, id asc).
@Suite struct TopNTests {
    @Test(arguments: [(1, 1), (2, 1), (3, 2), (4, 3), (5, 1), (6, 2)] as [(UInt64, Int)])
    func topNIsExactUnderDeletes(seed: UInt64, limit: Int) async throws {
        var g = SeededGenerator(seed: seed)
        // group, price, time, id (the primary key), label
        let types: [ColumnType] = [.bytes, .int64, .timestamp, .int64, .bytes]
        let objects = MemoryObjectStore()
        var store = try await StateStore.open(objectStore: objects)
        func make(_ store: StateStore) -> TopN {
            TopN(inputTypes: types, groupBy: [0], order: [.init(column: 1, descending: true), .init(column: 2, descending: false)],
                 primaryKey: [3], limit: limit, state: StateTable(store: store, table: TableID(5)), cacheBytes: [1, 1 << 20][Int(g.next() % 2)])
        }
        var op = make(store)
        typealias Row = (group: String, price: Int64, time: Int64, id: Int64, label: String)
        var live: [Row] = [], committedLive: [Row] = []
        var view: [[String]: Int] = [:], committedView: [[String]: Int] = [:]
        var nextID: Int64 = 1
        var epoch = store.committedEpoch + 1
        func append(_ c: inout Chunk, _ r: Row, _ op: ChangeOp) {
            c.appendOp(op); c.appendBytes(0, Array(r.group.utf8)); c.appendInt(1, r.price); c.appendInt(2, r.time); c.appendInt(3, r.id)
            c.appendBytes(4, Array(r.label.utf8))
        }
        func best(_ a: Row, _ b: Row) -> Bool { a.price != b.price ? a.price > b.price : a.time != b.time ? a.time < b.time : a.id < b.id }
        for step in 0..<60 {
            var out = Chunk(types: op.outputTypes)
            for _ in 0..<Int(g.next() % 3) + 1 {
                var c = Chunk(types: types)
                for _ in 0..<Int(g.next() % 12) {
                    if !live.isEmpty && g.next() % 3 == 0 {
                        // Half of the deletes take a group's current best row.
                        var i = Int(g.next() % UInt64(live.count))
                        if g.next() % 2 == 0 {
                            let grp = live[i].group
                            i = live.indices.filter { live[$0].group == grp }.min { best(live[$0], live[$1]) }!
                        }
                        append(&c, live.remove(at: i), .delete)
                    } else {
                        let r: Row = (["a", "b", "c\u{0}d", ""][Int(g.next() % 4)], Int64(g.next() % 5) * 10, Int64(g.next() % 4) * 1_000_000, nextID,
                                      ["x", "", "y,z"][Int(g.next() % 3)])
                        nextID += 1
                        live.append(r)
                        append(&c, r, .insert)
                    }
                }
                try await op.process(c, input: 0, epoch: epoch, into: &out)
            }
            #expect(out.isEmpty, "seed \(seed): top-N emits only at barriers")
            try await op.barrier(ending: epoch, into: &out)
            await op.afterBarrier(epoch)
            #expect(OperatorModelTests.apply(out, to: &view), "seed \(seed) step \(step): a delete of a row the view does not hold")
            var expected: [[String]: Int] = [:]
            for grp in Set(live.map(\.group)) {
                for r in live.filter({ $0.group == grp }).sorted(by: best).prefix(limit) {
                    expected[[r.group, "\(r.price)", ValueText.format(r.time, .timestamp), "\(r.id)", r.label]] = 1
                }
            }
            #expect(view == expected, "seed \(seed) limit \(limit) step \(step): \(view.count) rows, expected \(expected.count)")
            try await store.checkpoint(epoch: epoch, metadata: [:])
            epoch += 1
            committedView = view
            committedLive = live
            if g.next() % 5 == 0 {
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

    @Test func descendingStringsOrderReversed() async throws {
        let store = try await StateStore.open(objectStore: MemoryObjectStore())
        var op = TopN(inputTypes: [.int64, .bytes], groupBy: [0], order: [.init(column: 1, descending: true)], primaryKey: [1], limit: 2,
                      state: StateTable(store: store, table: TableID(2)))
        var c = Chunk(types: [.int64, .bytes])
        for s in ["a", "ab", "b", "", "a\u{0}"] { c.appendOp(.insert); c.appendInt(0, 1); c.appendBytes(1, Array(s.utf8)) }
        var out = Chunk(types: op.outputTypes)
        try await op.process(c, input: 0, epoch: 1, into: &out)
        try await op.barrier(ending: 1, into: &out)
        await op.afterBarrier(1)
        #expect(Set((0..<out.count).map { out.fields($0)[1] }) == ["b", "ab"])
        try await store.close()
    }
}
