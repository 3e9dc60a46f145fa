import CXXHash
import Floe
import Testing
@testable import FloeDataflow

/// Random appends of random rows and random reads from random offsets, with
/// random read sizes and buffer sizes, checked against a plain list per
/// partition. Replay a failure with `FLOE_TEST_SEED=<seed>` (every message
/// starts with the seed).
@Suite struct LogModelTests {
    @Test(arguments: [false, true])
    func randomAppendsAndReadsMatchModel(local: Bool) async throws {
        let base = testSeed()
        for run in 0..<4 {
            let seed = base &+ UInt64(run)
            try await reportingSeed(seed) {
                if local {
                    let dir = try LogTempDirectory()
                    defer { dir.remove() }
                    try await runModel(seed: seed, store: try LocalObjectStore(root: dir.path),
                                       reopen: { try LocalObjectStore(root: dir.path) })
                } else {
                    let store = MemoryObjectStore()
                    try await runModel(seed: seed, store: store, reopen: { store })
                }
            }
        }
    }

    private func runModel(seed: UInt64, store: any ObjectStore, reopen: () throws -> any ObjectStore) async throws {
        var g = SeededGenerator(seed: seed)
        let log = PartitionedLog(store: store)
        let partitions = 1 + Int(g.next() % 4)
        let columns = 1 + Int(g.next() % 4)
        let names = (0..<columns).map { "c\($0)" }
        try await log.createTopic("t", partitions: partitions, columns: names)
        var model = [[[[UInt8]]]](repeating: [], count: partitions)
        var segmentCounts = [Int](repeating: 0, count: partitions)
        for step in 0..<40 {
            let tag = "seed \(seed) step \(step)"
            switch g.next() % 5 {
            case 0, 1:
                var batch = try LogBatch(partitions: partitions, columns: columns)
                var added = [[[[UInt8]]]](repeating: [], count: partitions)
                for _ in 0..<Int(g.next() % 30) {
                    let fields = (0..<columns).map { _ in randomField(&g) }
                    if g.next() % 2 == 0 {
                        let p = try batch.appendRouted(fields: fields)
                        // The routing rule, computed here from xxh3 itself.
                        let expected = Int(fields[0].withUnsafeBytes { floe_xxh3_64($0.baseAddress, $0.count) } % UInt64(partitions))
                        #expect(p == expected, "\(tag): routed to \(p), xxh3 says \(expected)")
                        added[p].append(fields)
                    } else {
                        let p = Int(g.next() % UInt64(partitions))
                        try batch.append(partition: p, fields: fields)
                        added[p].append(fields)
                    }
                }
                let ends = try await log.append("t", batch)
                for p in 0..<partitions where !added[p].isEmpty {
                    model[p] += added[p]
                    segmentCounts[p] += 1
                }
                #expect(ends == model.map { UInt64($0.count) }, "\(tag): end offsets after an append")
            case 2:
                // A conditional append at any offset but the end is refused and writes nothing.
                let p = Int(g.next() % UInt64(partitions))
                let end = UInt64(model[p].count)
                let wrong = g.next() % 2 == 0 ? end + 1 + g.next() % 3 : (end == 0 ? 1 : g.next() % end)
                var records = LogRecords(columns: columns)
                let rows = (0..<(1 + Int(g.next() % 3))).map { _ in (0..<columns).map { _ in randomField(&g) } }
                for r in rows { try records.append(fields: r) }
                await #expect(throws: DataflowError.appendConflict(topic: "t", partition: p, offset: wrong), "\(tag)") {
                    try await log.append("t", partition: p, records: records, expectedEnd: wrong)
                }
                // At the end it is accepted.
                if g.next() % 2 == 0 {
                    #expect(try await log.append("t", partition: p, records: records, expectedEnd: end) == end + UInt64(rows.count), "\(tag)")
                    model[p] += rows
                    segmentCounts[p] += 1
                }
            default:
                let p = Int(g.next() % UInt64(partitions))
                let from = g.next() % UInt64(model[p].count + 1)
                let expected = Array(model[p][Int(from)...])
                if g.next() % 2 == 0 {
                    // Through a LogSource whose schema names the columns in another order.
                    var order = Array(0..<columns)
                    order.shuffle(using: &g)
                    let schema = Schema(order.map { ColumnDef(names[$0], .bytes) })
                    let source = try await LogSource(log: log, topic: "t", schema: schema)
                    var sizes = g
                    let got = try await readSourceBytes(source, partition: p, from: from, steps: { 1 + Int(sizes.next() % 50) })
                    _ = g.next()
                    let diff = rowDifference(got.rows, expected.map { row in order.map { row[$0] } })
                    #expect(diff == nil, "\(tag): partition \(p) from \(from) via LogSource: \(diff ?? "")")
                    #expect(got.last == .caughtUp && got.offset == UInt64(model[p].count), "\(tag)")
                } else {
                    let range = 64 + Int(g.next() % 4000)
                    let step = 1 + Int(g.next() % 40)
                    let got = try await readRaw(log, "t", partition: p, from: from, step: step, rangeBytes: range)
                    let diff = rowDifference(got, expected)
                    #expect(diff == nil, "\(tag): partition \(p) from \(from) via the raw reader (ranges of \(range) bytes): \(diff ?? "")")
                }
            }
        }
        // A fresh store instance (another process) sees the same log.
        let again = PartitionedLog(store: try reopen())
        #expect(try await again.endOffsets("t") == model.map { UInt64($0.count) }, "seed \(seed): end offsets")
        for p in 0..<partitions {
            #expect(try await again.segments("t", partition: p).count == segmentCounts[p], "seed \(seed): one segment per append")
            let diff = rowDifference(try await readRaw(again, "t", partition: p, rangeBytes: 100), model[p])
            #expect(diff == nil, "seed \(seed): partition \(p): \(diff ?? "")")
        }
        // Reading past the end is refused.
        await #expect(throws: DataflowError.self, "seed \(seed)") {
            _ = try await again.reader("t", partition: 0, from: UInt64(model[0].count) + 1)
        }
    }
}
