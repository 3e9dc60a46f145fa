import Floe
import FloeTesting
import Testing
@testable import FloeDataflow

/// The Nexmark queries that clean event-time state (q5, q7, q8 by closed
/// windows; q9 by interval expiry), run with an allowed lateness over seeded
/// events whose times advance through many windows (45 s to 200 s of event time
/// per test, 10 s windows, 2 s hops), a few of them far out of order:
/// - in stages (the sources grow, each run resumes from the committed offsets
///   after the store is closed and reopened, parallelism 1, then 3, then 2), the
///   view equals the query's model evaluated over the events minus the ones the
///   model's own per-partition lateness rule drops;
/// - run in many steps, the stateful operators' state (rows and bytes of their
///   tables) stays flat with cleaning and grows without it, while the view keeps
///   every row;
/// - runs stopped after a few epochs or cancelled, then resumed on a reopened
///   store, end with the failure-free run's view.
@Suite struct NexmarkCleaningTests {
    static let latenessMicros: Int64 = 5_000_000
    static let cleaned = [NexmarkQueries.q5, NexmarkQueries.q7, NexmarkQueries.q8, NexmarkQueries.q9]

    /// `events` events 50 ms apart from `NexmarkTestData.base` (1 in 10 a person,
    /// 2 in 10 an auction, the rest bids on the last few auctions), each moved back
    /// by a little (most), up to 4 s (some) or up to 30 s (a few: late with a 5 s
    /// lateness), in random partitions.
    static func advancing(_ g: inout SeededGenerator, events: Int, partitions: Int) -> NexmarkTestData {
        var d = NexmarkTestData(&g, persons: 0, auctions: 0, bids: 0, partitions: partitions)
        var persons: [Int64] = [], auctions: [Int64] = []
        var recentBids: [NexmarkTestData.Bid] = []
        for k in 0..<events {
            let roll = g.next() % 100
            let backMs = roll < 70 ? Int64(g.next() % 500) : roll < 96 ? Int64(g.next() % 4000) : Int64(g.next() % 30_000)
            var t = NexmarkTestData.base + Int64(k) * 50_000 - backMs * 1000
            if g.next() % 10 == 0 { t -= t % 2_000_000 }   // on a 2 s (hop) boundary, some on a 10 s one
            let p = Int(g.next() % UInt64(partitions))
            switch k % 10 {
            case 0:
                let id = Int64(persons.count + 1)
                persons.append(id)
                d.persons[p].append(.init(id: id, name: ["ann", "bob", "cy"][Int(g.next() % 3)], email: "e", card: "c", city: "Boise",
                                          state: "OR", time: t, extra: ""))
            case 1, 6:
                let id = Int64(auctions.count + 1) * 41
                auctions.append(id)
                let seller = persons.isEmpty ? 1 : persons[max(0, persons.count - 1 - Int(g.next() % 3))]
                d.auctions[p].append(.init(id: id, item: "i", description: "d", initialBid: 1, reserve: 2, time: t,
                                           expires: t + Int64(g.next() % 8000 + 1) * 1000, seller: seller, category: Int64(g.next() % 3) + 9,
                                           extra: ""))
            default:
                var b: NexmarkTestData.Bid
                if !recentBids.isEmpty && g.next() % 20 == 0 {
                    b = recentBids[Int(g.next() % UInt64(recentBids.count))]   // an equal bid (bag semantics)
                } else {
                    let a = auctions.isEmpty ? 41 : auctions[max(0, auctions.count - 1 - Int(g.next() % 4))]
                    b = .init(auction: a, bidder: Int64(g.next() % 5), price: Int64(g.next() % 6 + 1) * 100, channel: "web", url: "u", time: t,
                              extra: "", rowID: 0)
                }
                b.rowID = PositionKeyedSource.key(partition: p, offset: UInt64(d.bids[p].count))
                d.bids[p].append(b)
                recentBids.append(b)
                if recentBids.count > 20 { recentBids.removeFirst() }
            }
        }
        return d
    }

    /// The events the sources keep: per partition, a row more than the lateness
    /// behind the largest time before it is dropped (the model of `LateRowFilter`).
    static func kept(_ d: NexmarkTestData) -> (data: NexmarkTestData, late: Int) {
        var late = 0
        func keep<T>(_ parts: [[T]], _ time: (T) -> Int64) -> [[T]] {
            parts.map { rows in
                var m = Int64.min
                return rows.filter { r in
                    let t = time(r)
                    if m != .min && t < m - latenessMicros {
                        late += 1
                        return false
                    }
                    m = max(m, t)
                    return true
                }
            }
        }
        var out = d
        out.persons = keep(d.persons) { $0.time }
        out.auctions = keep(d.auctions) { $0.time }
        out.bids = keep(d.bids) { $0.time }
        return (out, late)
    }

    /// The pipeline of `view` over `d`, its sources timed with the lateness (or not).
    static func build(_ d: NexmarkTestData, view: String, lateness: Int64?) throws -> PipelineBuilder {
        let b = PipelineBuilder()
        let s = try d.sources()
        let inputs = try NexmarkQueries.inputs(view)
        func add(_ src: any Source, _ stream: NexmarkStreams.Stream) throws -> PipelineBuilder.Stream? {
            inputs.contains(stream) ? try NexmarkQueries.source(src, stream: stream, to: b, latenessMicros: lateness) : nil
        }
        let person = try add(s.person, .person), auction = try add(s.auction, .auction), bid = try add(s.bid, .bid)
        try NexmarkQueries.add(view, to: b, person: person, auction: auction, bid: bid)
        return b
    }

    /// The state tables of the stateful operators of a pipeline (views excluded).
    static func stateTables(_ b: PipelineBuilder) -> [TableID] {
        var out: [TableID] = []
        for node in b.nodes {
            switch node {
            case let .aggregate(_, _, calls, table, _): out += [table] + calls.compactMap(\.table)
            case let .join(_, _, _, _, _, tables, _, expiry): out += tables + (expiry?.tables.compactMap { $0 } ?? [])
            case let .topN(_, _, _, _, _, table, _): out.append(table)
            default: break
            }
        }
        return out
    }

    /// The stateful operators of a pipeline that clean no state (by number and kind).
    static func uncleaned(_ b: PipelineBuilder) -> [String] {
        b.nodes.enumerated().compactMap { n, node in
            switch node {
            case let .aggregate(_, _, _, _, cleaning): return cleaning == nil ? "\(n) aggregate" : nil
            case let .join(_, _, _, _, _, _, cleaning, expiry): return cleaning == nil && expiry == nil ? "\(n) join" : nil
            case let .topN(_, _, _, _, _, _, cleaning): return cleaning == nil ? "\(n) topN" : nil
            default: return nil
            }
        }
    }

    /// Rows and bytes (keys and values) of `tables` at the store's committed epoch.
    static func stateSize(_ store: StateStore, _ tables: [TableID]) async throws -> (rows: Int, bytes: Int) {
        var rows = 0, bytes = 0
        for t in tables {
            try await store.scan(t, from: nil, to: nil, epoch: store.committedEpoch).forEachRow { k, v in
                rows += 1
                bytes += k.count + v.count
                return true
            }
        }
        return (rows, bytes)
    }

    /// Random run options (small chunks, barriers every 1-3 ms: many epochs).
    static func options(_ g: inout SeededGenerator, parallelism: Int) -> PipelineOptions {
        var o = PipelineOptions()
        o.parallelism = parallelism
        o.barrierIntervalMillis = 1 + Int(g.next() % 3)
        o.chunkRows = [3, 16, 64][Int(g.next() % 3)]
        o.cacheBytes = g.next() % 2 == 0 ? 1 : 64 << 20
        return o
    }

    /// The view with cleaning equals the model over the rows that are not late,
    /// after every stage of a run that closes and reopens its store between stages.
    @Test(arguments: cleaned, ModelSeeds.thinned([1, 2] as [UInt64]))
    func cleanedViewEqualsTheModelWithoutLateRows(view: String, seed: UInt64) async throws {
        var g = SeededGenerator(seed: seed)
        let data = Self.advancing(&g, events: 1500, partitions: Int(seed % 2) + 2)
        let objects = MemoryObjectStore()
        var lateSeen = 0
        for (stage, (fraction, parallelism)) in [(0.35, 1), (0.7, 3), (1.0, 2)].enumerated() {
            let d = data.prefix(fraction)
            let (k, late) = Self.kept(d)
            let builder = try Self.build(d, view: view, lateness: Self.latenessMicros)
            #expect(Self.uncleaned(builder).isEmpty, "seed \(seed) \(view): stateful operators that clean nothing: \(Self.uncleaned(builder))")
            let store = try await StateStore.open(objectStore: objects)
            var o = Self.options(&g, parallelism: parallelism)
            o.untilEnd = true
            let report = try await Pipeline(store: store, builder: builder, options: o).run()
            #expect(report.endEpoch > report.startEpoch, "seed \(seed) \(view) stage \(stage): no epoch committed")
            let got = NexmarkTestData.sorted(try await ViewReader(store: store, view: view).sortedRows(at: store.committedEpoch))
            let want = k.expected(view)
            let extra = got.first { !want.contains($0) } ?? [], missing = want.first { !got.contains($0) } ?? []
            #expect(got == want, "seed \(seed) \(view) stage \(stage) parallelism \(parallelism): \(got.count) rows, expected \(want.count); e.g. extra \(extra) missing \(missing)")
            lateSeen = late
            let committedLate = try NexmarkQueries.inputs(view).map(\.topic).reduce(0) { n, s in
                n + (try PipelineMetadata.decodePositions(store.committedMetadata[PipelineMetadata.sourceKey(s)] ?? [], source: s)).reduce(0) { $0 + Int($1.lateRows) }
            }
            let readLate = try NexmarkQueries.inputs(view).reduce(0) { n, s in
                n + Self.kept(Self.only(d, s)).late
            }
            #expect(committedLate == readLate, "seed \(seed) \(view) stage \(stage): \(committedLate) late rows committed, model \(readLate)")
            if stage == 2 { #expect(!want.isEmpty, "seed \(seed) \(view): the events must give the view rows") }
            try await store.close()
        }
        #expect(lateSeen > 0, "seed \(seed): the events must hold late rows")
    }

    /// Runs stopped part way (after a few epochs, or cancelled as a crash would
    /// be), each followed by a reopened store that resumes, end with the view of a
    /// failure-free run, which is the model's.
    @Test(arguments: cleaned)
    func restartsMidRunGiveTheSameView(view: String) async throws {
        let seed: UInt64 = 11
        var g = SeededGenerator(seed: seed)
        let data = Self.advancing(&g, events: 900, partitions: 3)
        var views: [[[String]]] = []
        for restarts in [0, 4] {
            let objects = MemoryObjectStore()
            _ = try await WatermarkModelTests.runWithRestarts(objects, restarts: restarts, &g) {
                try Self.build(data, view: view, lateness: Self.latenessMicros)
            }
            let store = try await StateStore.open(objectStore: objects)
            views.append(NexmarkTestData.sorted(try await ViewReader(store: store, view: view).sortedRows(at: store.committedEpoch)))
            try await store.close()
        }
        let want = Self.kept(data).data.expected(view)
        #expect(views[0] == want, "seed \(seed) \(view): the failure-free run has \(views[0].count) rows, the model \(want.count)")
        #expect(views[1] == views[0], "seed \(seed) \(view): after restarts \(views[1].count) rows, failure-free \(views[0].count)")
    }

    /// Without a lateness no query cleans anything (the default stays exact, and its
    /// plans, fingerprints included, are those of before); with one, exactly the
    /// windowed queries' stateful operators all clean.
    @Test func onlyTimedWindowedPlansClean() throws {
        var g = SeededGenerator(seed: 3)
        let d = NexmarkTestData(&g)
        for view in NexmarkQueries.all {
            let plain = try Self.build(d, view: view, lateness: nil)
            let stateful = Self.uncleaned(plain)
            #expect(!plain.fingerprint.contains(" cleans ") && !plain.fingerprint.contains(" expires ["), "\(view): \(plain.fingerprint)")
            let timed = try Self.build(d, view: view, lateness: Self.latenessMicros)
            let left = Self.uncleaned(timed)
            if Self.cleaned.contains(view) {
                #expect(left.isEmpty && !stateful.isEmpty, "\(view): \(left) of \(stateful) clean nothing")
            } else {
                #expect(left == stateful, "\(view): \(left) vs \(stateful)")
            }
        }
    }

    /// `d` with only stream `s`'s events.
    static func only(_ d: NexmarkTestData, _ s: NexmarkStreams.Stream) -> NexmarkTestData {
        var out = d
        if s != .person { out.persons = d.persons.map { _ in [] } }
        if s != .auction { out.auctions = d.auctions.map { _ in [] } }
        if s != .bid { out.bids = d.bids.map { _ in [] } }
        return out
    }

    /// Over 200 s of events (20 tumbling windows) in 6 steps, the stateful operators' state stays
    /// flat with cleaning and grows with the input without it; both views are
    /// the model's (the same rows: the same events are dropped as late).
    @Test(arguments: cleaned)
    func stateStaysFlatWithCleaningAndGrowsWithout(view: String) async throws {
        let seed: UInt64 = 7
        var g = SeededGenerator(seed: seed)
        let data = Self.advancing(&g, events: 4000, partitions: 2)
        var sizes: [Bool: [(rows: Int, bytes: Int)]] = [:]
        for cleaning in [true, false] {
            let objects = MemoryObjectStore()
            let steps = 6
            for step in 1...steps {
                let d = data.prefix(Double(step) / Double(steps))
                // Without cleaning: the exact plan (no event time, nothing dropped as late).
                let b = try Self.build(d, view: view, lateness: cleaning ? Self.latenessMicros : nil)
                for settle in [false, true] {
                    let store = try await StateStore.open(objectStore: objects)
                    var o = Self.options(&g, parallelism: 2)
                    if settle { o.maxEpochs = 2 } else { o.untilEnd = true }
                    _ = try await Pipeline(store: store, builder: b, options: o).run()
                    try await store.close()
                }
                let store = try await StateStore.open(objectStore: objects)
                sizes[cleaning, default: []].append(try await Self.stateSize(store, Self.stateTables(b)))
                if step == steps {
                    let got = NexmarkTestData.sorted(try await ViewReader(store: store, view: view).sortedRows(at: store.committedEpoch))
                    let want = cleaning ? Self.kept(d).data.expected(view) : d.expected(view)
                    #expect(got == want, "seed \(seed) \(view) cleaning \(cleaning): \(got.count) rows, expected \(want.count)")
                }
                try await store.close()
            }
        }
        let with = sizes[true]!, without = sizes[false]!
        let report = "with cleaning \(with.map { "\($0.rows)/\($0.bytes)" }), without \(without.map { "\($0.rows)/\($0.bytes)" }) (rows/bytes per step)"
        // Flat: the last steps hold no more than the second did (give or take the windows open at the time); growing: 2.5x or more.
        #expect(with[5].rows <= with[1].rows * 3 / 2 + 50 && with[5].bytes <= with[1].bytes * 3 / 2 + 5000, "seed \(seed) \(view): \(report)")
        #expect(without[5].rows * 2 >= without[1].rows * 5, "seed \(seed) \(view): \(report)")
        #expect(with[5].rows * 5 < without[5].rows, "seed \(seed) \(view): \(report)")
    }
}
