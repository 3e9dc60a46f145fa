import Testing
@testable import Floe

/// Reverse scans and iterator seeks against the in-memory model of
/// `ReadModelRun` (200 seeds): random ranges and prefixes, limits, and seeks
/// forward and backward in the middle of an iteration. A failure names `seed S op N`.
@Suite struct ReverseScanSeekTests {
    static let seeds: [UInt64] = Array(0..<200)

    static func bound(_ run: ReadModelRun) -> [UInt8]? { run.int(4) == 0 ? nil : run.randomKey(maxLength: 3) }

    @Test(arguments: seeds)
    func reverseScansAndSeeksMatchModel(seed: UInt64) async throws {
        let run = try await ReadModelRun(seed: seed, prefixLength: seed % 2 == 0 ? 2 : nil)
        for _ in 0..<70 {
            try await run.step()
            guard run.int(3) == 0 else { continue }
            let (e, map) = run.readEpoch()
            let table = UInt32(1 + run.int(2))
            let limit: Int? = run.int(2) == 0 ? nil : run.int(5)
            func cut(_ rows: [Row]) -> [Row] { limit.map { Array(rows.prefix($0)) } ?? rows }
            func asRows(_ r: [ScanResult.Element]) -> [Row] { r.map { Row(key: $0.key, value: $0.value) } }

            // A range, backwards.
            let from = Self.bound(run), to = Self.bound(run)
            let range = try await run.store.scanReverse(TableID(table), from: from, to: to, epoch: e, limit: limit)
            let wantRange = cut(expectedRows(map, table: table, from: from, to: to).reversed())
            #expect(asRows(range) == wantRange, "\(run.where_): reverse t\(table) [\(from as Any), \(to as Any)) limit \(limit as Any) at \(e)")

            // A prefix, backwards.
            let prefix = run.int(5) == 0 ? [] : run.randomKey(maxLength: 3)
            let p = try await run.store.scanReverse(TableID(table), prefix: prefix, epoch: e, limit: limit)
            let wantPrefix = cut(PrefixScanTests.expected(map, table: table, prefix: prefix).reversed())
            #expect(asRows(p) == wantPrefix, "\(run.where_): reverse prefix \(prefix) limit \(limit as Any) at \(e)")

            // A forward range read with `next` and seeks to random keys (either side of
            // the position) interleaved: seeks forward from a row step the sources on,
            // the others start over; both must land where the model says.
            let all = expectedRows(map, table: table, from: from, to: to)
            var it = try await run.store.scan(TableID(table), from: from, to: to, epoch: e).makeAsyncIterator()
            var at = 0
            for _ in 0..<(3 + run.int(12)) {
                if run.int(3) == 0 {
                    // Near the current row half the time: the stepping case.
                    let near = run.int(2) == 0 && !all.isEmpty
                    let target = near ? all[min(all.count - 1, max(0, at - 1 + run.int(3)))].key + (run.int(2) == 0 ? [] : [0]) : run.randomKey()
                    it.seek(to: target)
                    at = all.firstIndex { !$0.key.lexicographicallyPrecedes(target) } ?? all.count
                    continue
                }
                let r = try await it.next()
                #expect(r.map { Row(key: $0.key, value: $0.value) } == (at < all.count ? all[at] : nil),
                        "\(run.where_): next after seeks at row \(at) of [\(from as Any), \(to as Any)) at \(e)")
                at = min(at + 1, all.count)
            }
        }
        try await run.store.close()
    }

    @Test func negativeLimitIsRefused() async throws {
        let store = try await StateStore.open(objectStore: MemoryObjectStore())
        let r = await capture { try await store.scanReverse(TableID(1), from: nil, to: nil, epoch: 1, limit: -1) }
        guard case .failure(.invalidArgument) = r else { Issue.record("negative limit: \(r)"); return }
        try await store.close()
    }
}
