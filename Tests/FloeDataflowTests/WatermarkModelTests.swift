import Floe
import FloeTesting
import Testing
@testable import FloeDataflow

/// Event time with an allowed lateness, run against a plain model: orders whose
/// event times are out of order within every partition, a source that drops late
/// rows, tumbling and hopping window aggregations that clean closed windows, and
/// restarts (clean stops and cancellations, as a crash would) with random
/// parallelism and barrier timing. The model drops late rows by the per-partition
/// rule (a row more than the lateness behind the largest time before it in its
/// partition) and evaluates the views directly.
@Suite struct WatermarkModelTests {
    /// Allowed lateness of the tests, in seconds.
    static let lateness = 5
    static let tumbleSeconds = 10
    static let hopSeconds = 20, hopSlideSeconds = 10

    /// One partitioned input: per partition, rows in partition order.
    struct Input {
        var categories: [[String]] = []
        var cents: [[Int]] = []
        /// Event times in seconds since midnight of 2026-04-01 (UTC).
        var seconds: [[Int]] = []
        var partitions: Int { seconds.count }

        /// The rows as text (`order_id, category, amount, event_time`), the first `limit` of each partition.
        func text(limit: Int = .max) -> [[[String]]] {
            (0..<partitions).map { p in
                (0..<min(limit, seconds[p].count)).map { r in
                    ["\(p * 1_000_000 + r + 1)", categories[p][r], WatermarkModelTests.money(cents[p][r]), WatermarkModelTests.time(seconds[p][r])]
                }
            }
        }
    }

    /// `rows` orders, one a second from 10:00:00, each in a random partition, its
    /// time moved back by a little (most), more (some) or much (a few).
    static func makeInput(_ g: inout SeededGenerator, rows: Int, partitions: Int, categories: [String]) -> Input {
        var input = Input()
        input.categories = Array(repeating: [], count: partitions)
        input.cents = Array(repeating: [], count: partitions)
        input.seconds = Array(repeating: [], count: partitions)
        for k in 0..<rows {
            let p = k < partitions ? k : Int(g.next() % UInt64(partitions))
            let roll = g.next() % 100
            let back = roll < 70 ? Int(g.next() % 4) : roll < 95 ? Int(g.next() % 16) : Int(g.next() % 121)
            input.categories[p].append(categories[Int(g.next() % UInt64(categories.count))])
            input.cents[p].append(Int(g.next() % 99_999) + 1)
            input.seconds[p].append(36_000 + k - back)
        }
        return input
    }

    /// The model of the source: which rows are kept, the late rows and the largest
    /// time of each partition (of its first `limit` rows).
    struct Kept {
        var kept: [[Bool]]
        var late: [Int]
        var maxTime: [Int?]

        /// The watermark after these rows: the smallest partition maximum minus the lateness.
        var watermark: Int? {
            guard maxTime.allSatisfy({ $0 != nil }) else { return nil }
            return maxTime.map { $0! }.min()! - WatermarkModelTests.lateness
        }
    }

    static func keep(_ input: Input, limit: Int = .max) -> Kept {
        var out = Kept(kept: [], late: [], maxTime: [])
        for p in 0..<input.partitions {
            var m: Int?
            var kept: [Bool] = []
            var late = 0
            for t in input.seconds[p].prefix(limit) {
                if let m, t < m - lateness {
                    kept.append(false)
                    late += 1
                    continue
                }
                kept.append(true)
                m = max(m ?? t, t)
            }
            out.kept.append(kept)
            out.late.append(late)
            out.maxTime.append(m)
        }
        return out
    }

    static func money(_ c: Int) -> String { "\(c / 100).\(c % 100 < 10 ? "0" : "")\(c % 100)" }
    static func time(_ s: Int) -> String {
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "2026-04-01 \(two(s / 3600)):\(two(s / 60 % 60)):\(two(s % 60))"
    }
    static func sorted(_ rows: [[String]]) -> [[String]] { rows.sorted { $0.lexicographicallyPrecedes($1) } }

    /// The three views evaluated on the kept rows.
    static func expected(_ input: Input, _ k: Kept) -> [String: [[String]]] {
        struct Acc { var n = 0, sum = 0, lo = Int.max, hi = Int.min }
        var windows: [[String]: Acc] = [:], hops: [[String]: Int] = [:], totals: [String: Int] = [:]
        for p in 0..<input.partitions {
            for r in k.kept[p].indices where k.kept[p][r] {
                let t = input.seconds[p][r], c = input.cents[p][r], cat = input.categories[p][r]
                let start = t - t % tumbleSeconds
                windows[[cat, time(start), time(start + tumbleSeconds)], default: Acc()].n += 1
                windows[[cat, time(start), time(start + tumbleSeconds)]]!.sum += c
                windows[[cat, time(start), time(start + tumbleSeconds)]]!.lo = min(windows[[cat, time(start), time(start + tumbleSeconds)]]!.lo, c)
                windows[[cat, time(start), time(start + tumbleSeconds)]]!.hi = max(windows[[cat, time(start), time(start + tumbleSeconds)]]!.hi, c)
                var s = t - t % hopSlideSeconds
                while s + hopSeconds > t {
                    hops[[time(s), time(s + hopSeconds), cat], default: 0] += 1
                    s -= hopSlideSeconds
                }
                totals[cat, default: 0] += 1
            }
        }
        return [
            "late_windows": sorted(windows.map { $0.key + ["\($0.value.n)", money($0.value.sum), money($0.value.lo), money($0.value.hi)] }),
            "late_hops": sorted(hops.map { $0.key + ["\($0.value)"] }),
            "late_totals": sorted(totals.map { [$0.key, "\($0.value)"] }),
        ]
    }

    /// The pipeline of the views: orders timed by `event_time` with the lateness.
    static func build(_ rows: [[[String]]]) throws -> PipelineBuilder {
        let b = PipelineBuilder()
        let orders = try b.source(RowsSource(name: "orders", schema: EoTestData.orders, rows: rows), eventTime: "event_time",
                                  latenessMicros: Int64(lateness) * 1_000_000)
        let tumbled = try b.tumble(orders, time: "event_time", sizeMicros: Int64(tumbleSeconds) * 1_000_000)
        let windows = try b.aggregate(tumbled, groupBy: ["category", "window_start", "window_end"],
                                      [.count(as: "n"), .sum("amount", as: "revenue"), .min("amount", as: "lo"), .max("amount", as: "hi")])
        try b.materialize(windows, as: "late_windows", primaryKey: ["category", "window_start", "window_end"])
        let hopped = try b.hop(b.project(orders, ["category", "event_time"]), time: "event_time",
                               sizeMicros: Int64(hopSeconds) * 1_000_000, slideMicros: Int64(hopSlideSeconds) * 1_000_000)
        let hops = try b.aggregate(hopped, groupBy: ["window_start", "window_end", "category"], [.count(as: "n")])
        try b.materialize(hops, as: "late_hops", primaryKey: ["window_start", "window_end", "category"])
        let totals = try b.aggregate(orders, groupBy: ["category"], [.count(as: "n")])
        try b.materialize(totals, as: "late_totals", primaryKey: ["category"])
        return b
    }

    /// Random run options.
    static func options(_ g: inout SeededGenerator) -> PipelineOptions {
        var o = PipelineOptions()
        o.parallelism = Int(g.next() % 3) + 1
        o.barrierIntervalMillis = 1 + Int(g.next() % 4)
        o.chunkRows = [1, 7, 64, 1024][Int(g.next() % 4)]
        o.channelCapacity = Int(g.next() % 3) + 1
        o.cacheBytes = g.next() % 3 == 0 ? 1 : 64 << 20
        return o
    }

    /// Runs `build()` on the store in `objects` `restarts + 1` times, reopening the
    /// store every time: the first runs stop cleanly after a few epochs or are
    /// cancelled part way (like a crash: what was committed stays), the last runs
    /// to the end. Returns the last run's report.
    static func runWithRestarts(_ objects: MemoryObjectStore, restarts: Int, _ g: inout SeededGenerator,
                                build: () throws -> PipelineBuilder) async throws -> PipelineReport {
        for _ in 0..<restarts {
            let store = try await StateStore.open(objectStore: objects)
            var o = options(&g)
            if g.next() % 2 == 0 {
                o.maxEpochs = 1 + Int(g.next() % 4)
                _ = try await Pipeline(store: store, builder: try build(), options: o).run()
            } else {
                o.untilEnd = true
                let pipeline = try Pipeline(store: store, builder: try build(), options: o)
                let run = Task { try await pipeline.run() }
                try await Task.sleep(for: .milliseconds(Int(g.next() % 25)))
                run.cancel()
                _ = try? await run.value
            }
            try await store.close()
        }
        let store = try await StateStore.open(objectStore: objects)
        var o = options(&g)
        o.untilEnd = true
        let report = try await Pipeline(store: store, builder: try build(), options: o).run()
        try await store.close()
        return report
    }

    /// The committed positions of source `name`.
    static func positions(_ store: StateStore, _ name: String) throws -> [SourcePosition] {
        try PipelineMetadata.decodePositions(store.committedMetadata[PipelineMetadata.sourceKey(name)] ?? [], source: name)
    }

    @Test(arguments: ModelSeeds.thinned([1, 2, 3, 4, 5] as [UInt64]))
    func viewsEqualTheModelThatDropsLateRows(seed: UInt64) async throws {
        var g = SeededGenerator(seed: seed)
        let partitions = Int(g.next() % 3) + 2
        let input = Self.makeInput(&g, rows: 600 + Int(g.next() % 600), partitions: partitions, categories: EoTestData.categories)
        let k = Self.keep(input)
        let objects = MemoryObjectStore()
        let report = try await Self.runWithRestarts(objects, restarts: 1 + Int(g.next() % 3), &g) { try Self.build(input.text()) }
        let store = try await StateStore.open(objectStore: objects)
        let expected = Self.expected(input, k)
        for (name, rows) in expected.sorted(by: { $0.key < $1.key }) {
            let got = Self.sorted(try await ViewReader(store: store, view: name).sortedRows())
            #expect(got == rows, "seed \(seed) view \(name): \(got.count) rows, expected \(rows.count)")
        }
        let committed = try Self.positions(store, "orders")
        #expect(committed.map(\.offset) == input.seconds.map { UInt64($0.count) }, "seed \(seed): offsets")
        #expect(committed.map(\.lateRows) == k.late.map(UInt64.init), "seed \(seed): late rows per partition \(committed.map(\.lateRows)), model \(k.late)")
        // 2026-04-01 00:00:00 UTC is 1 775 001 600 s after 1970.
        #expect(committed.map(\.maxEventTime) == k.maxTime.map { (Int64($0!) + 1_775_001_600) * 1_000_000 }, "seed \(seed): max event times")
        #expect(report.lateRows["orders"] == UInt64(k.late.reduce(0, +)), "seed \(seed): reported \(report.lateRows), model \(k.late)")
        #expect(k.late.reduce(0, +) > 0, "seed \(seed): the input must have late rows")
        try await store.close()
    }

    /// A run with many restarts and a failure-free run commit the same positions
    /// (offset, max event time, late rows) for every partition: the late rows are
    /// counted once each, whatever the restarts.
    @Test(arguments: [21, 22, 23])
    func lateRowsAreCountedOnceAcrossRestarts(seed: UInt64) async throws {
        var g = SeededGenerator(seed: seed)
        let input = Self.makeInput(&g, rows: 800, partitions: 3, categories: ["a", "b", "c"])
        let k = Self.keep(input)
        let plain = MemoryObjectStore(), restarted = MemoryObjectStore()
        let clean = try await Self.runWithRestarts(plain, restarts: 0, &g) { try Self.build(input.text()) }
        let report = try await Self.runWithRestarts(restarted, restarts: 4 + Int(g.next() % 3), &g) { try Self.build(input.text()) }
        let a = try await StateStore.open(objectStore: plain), b = try await StateStore.open(objectStore: restarted)
        #expect(try Self.positions(a, "orders") == Self.positions(b, "orders"), "seed \(seed)")
        #expect(try Self.positions(b, "orders").map(\.lateRows) == k.late.map(UInt64.init), "seed \(seed): model \(k.late)")
        #expect(clean.lateRows == report.lateRows, "seed \(seed): \(clean.lateRows) vs \(report.lateRows)")
        try await a.close()
        try await b.close()
    }
}

extension WatermarkModelTests {
    /// The window aggregation's state holds the groups of open windows only: fed
    /// hundreds of windows in steps, after each step (and a run that only moves the
    /// barriers on, so the step's last watermark is committed) its table and its
    /// `min` table hold exactly the groups of the windows the watermark has not
    /// closed, while the view keeps every window.
    @Test(arguments: [31, 32])
    func windowStateStaysFlat(seed: UInt64) async throws {
        var g = SeededGenerator(seed: seed)
        let categories = ["a", "b", "c", "d"]
        let input = Self.makeInput(&g, rows: 3000, partitions: 2, categories: categories)
        let perPartition = input.seconds.map(\.count).min()!
        func build(_ limit: Int) throws -> PipelineBuilder {
            let b = PipelineBuilder()
            let orders = try b.source(RowsSource(name: "orders", schema: EoTestData.orders, rows: input.text(limit: limit)), eventTime: "event_time",
                                      latenessMicros: Int64(Self.lateness) * 1_000_000)
            let w = try b.tumble(orders, time: "event_time", sizeMicros: Int64(Self.tumbleSeconds) * 1_000_000)
            let agg = try b.aggregate(w, groupBy: ["category", "window_start", "window_end"], [.count(as: "n"), .min("amount", as: "lo")])
            try b.materialize(agg, as: "flat", primaryKey: ["category", "window_start", "window_end"])
            return b
        }
        // The aggregation's tables: its `min` table, then its own (builder order).
        var tables: [TableID] = []
        for node in try build(0).nodes {
            if case let .aggregate(_, _, calls, table, cleaning) = node {
                #expect(cleaning != nil, "seed \(seed): the window aggregation must clean")
                tables = [table] + calls.compactMap(\.table)
            }
        }
        let objects = MemoryObjectStore()
        var maxLive = 0
        var allGroups = 0
        let steps = 6
        for step in 1...steps {
            let limit = perPartition * step / steps
            for settle in [false, true] {
                let store = try await StateStore.open(objectStore: objects)
                var o = Self.options(&g)
                if settle { o.maxEpochs = 2 } else { o.untilEnd = true }
                _ = try await Pipeline(store: store, builder: try build(limit), options: o).run()
                try await store.close()
            }
            let store = try await StateStore.open(objectStore: objects)
            let k = Self.keep(input, limit: limit)
            let open = k.watermark.map { $0 - Self.tumbleSeconds + 1 } ?? .min
            // Every group of kept rows (for the view), and the groups and group values of open windows (for the state).
            var all: [[String]: (n: Int, lo: Int)] = [:]
            var groups = Set<[Int]>(), values = Set<[Int]>()
            for p in 0..<input.partitions {
                for r in k.kept[p].indices where k.kept[p][r] {
                    let t = input.seconds[p][r], start = t - t % Self.tumbleSeconds, c = input.cents[p][r]
                    let key = [input.categories[p][r], Self.time(start), Self.time(start + Self.tumbleSeconds)]
                    all[key] = (all[key].map { $0.n + 1 } ?? 1, min(all[key]?.lo ?? c, c))
                    guard start >= open else { continue }
                    let cat = categories.firstIndex(of: input.categories[p][r])!
                    groups.insert([cat, start])
                    values.insert([cat, start, c])
                }
            }
            allGroups = all.count
            var live: [Int] = []
            for t in tables {
                var n = 0
                try await store.scan(t, from: nil, to: nil, epoch: store.committedEpoch).forEachRow { _, _ in
                    n += 1
                    return true
                }
                live.append(n)
            }
            #expect(live == [groups.count, values.count], "seed \(seed) step \(step): live keys \(live), open groups \(groups.count), values \(values.count)")
            maxLive = max(maxLive, live[0])
            let view = try await ViewReader(store: store, view: "flat").sortedRows()
            #expect(view == Self.sorted(all.map { $0.key + ["\($0.value.n)", Self.money($0.value.lo)] }),
                    "seed \(seed) step \(step): the view keeps every window (\(view.count) rows, \(all.count) expected)")
            try await store.close()
        }
        // Hundreds of windows went through; the state never held more than a few.
        #expect(allGroups >= 800 && maxLive * 20 < allGroups, "seed \(seed): at most \(maxLive) live groups of \(allGroups)")
    }
}

extension WatermarkModelTests {
    /// `source.<name>` round-trips positions, still reads the older offsets-only
    /// form (no event time, no late rows) and refuses other lengths, and, given the
    /// partition count, an entry cut short.
    @Test func committedPositionsReadBothForms() throws {
        var g = SeededGenerator(seed: 41)
        for n in 1...5 {
            let p = (0..<n).map { _ in
                SourcePosition(offset: g.next() >> 1, maxEventTime: g.next() % 2 == 0 ? Watermark.none : Int64(bitPattern: g.next()),
                               lateRows: g.next() % 1000)
            }
            let bytes = PipelineMetadata.encode(positions: p)
            #expect(bytes.count == 1 + 24 * n)
            #expect(try PipelineMetadata.decodePositions(bytes, source: "s") == p, "seed 41: \(n) partitions")
            // The older form: each offset as 8 bytes little-endian.
            var old: [UInt8] = []
            for x in p { for k in 0..<8 { old.append(UInt8(truncatingIfNeeded: x.offset >> (8 * UInt64(k)))) } }
            #expect(try PipelineMetadata.decodePositions(old, source: "s") == p.map { SourcePosition(offset: $0.offset) })
            #expect(try PipelineMetadata.decodePositions(old, source: "s", partitions: n).count == n)
            #expect(throws: DataflowError.self) { try PipelineMetadata.decodePositions(Array(bytes.dropLast(2)), source: "s") }
            #expect(throws: DataflowError.self) { try PipelineMetadata.decodePositions(Array(bytes.dropLast()), source: "s", partitions: n) }
            #expect(throws: DataflowError.self) { try PipelineMetadata.decodePositions(Array(old.dropLast(8)), source: "s", partitions: n) }
        }
    }
}
