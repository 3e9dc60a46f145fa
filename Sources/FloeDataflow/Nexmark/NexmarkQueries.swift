/// The Nexmark queries q0-q5, q7-q9 as views over the streams of
/// `NexmarkStreams`, defined as the public Nexmark SQL (nexmark-flink) defines
/// them; docs/dataflow.md, "Nexmark queries", gives each query's SQL, its plan
/// and where Floe's views differ from Flink's results.
///
/// Bag semantics: bids have no key and two bids may be equal, so the bid stream
/// carries a hidden key, `rowKey` (its source position, `PositionKeyedSource`):
/// views of bid rows (q0, q1, q2, q7) and joins that keep bids in state (q4, q7,
/// q9) are keyed by it, and equal bids stay separate rows, as in SQL. Make the
/// bid source with `keyedBidSource`. q5's rows are keyed by (auction, window
/// start) and q8's by (id, name, window start), both hidden where the SQL does
/// not select them. q3 is keyed by the auction id, q4 by the category, q9 by the
/// auction id (auction and person ids are unique in Nexmark).
public enum NexmarkQueries {
    public static let q0 = "nexmark_q0"
    public static let q1 = "nexmark_q1"
    public static let q2 = "nexmark_q2"
    public static let q3 = "nexmark_q3"
    public static let q4 = "nexmark_q4"
    public static let q5 = "nexmark_q5"
    public static let q7 = "nexmark_q7"
    public static let q8 = "nexmark_q8"
    public static let q9 = "nexmark_q9"
    public static let all = [q0, q1, q2, q3, q4, q5, q7, q8, q9]

    /// The hidden key column of the bid stream (`keyedBidSource`).
    public static let rowKey = "row_id"
    /// Ten seconds: the windows of q5 (size), q7 and q8.
    static let tenSeconds: Int64 = 10_000_000

    /// The bid source with its hidden key column `rowKey`. Throws `invalidArgument`
    /// when it already has a column of that name.
    public static func keyedBidSource(_ bids: any Source) throws -> any Source {
        try PositionKeyedSource(bids, column: rowKey)
    }

    /// The streams view `name` reads. Throws `unknown` for another name.
    public static func inputs(_ name: String) throws -> [NexmarkStreams.Stream] {
        switch name {
        case q0, q1, q2, q5, q7: return [.bid]
        case q3: return [.person, .auction]
        case q4, q9: return [.auction, .bid]
        case q8: return [.person, .auction]
        default: throw DataflowError.unknown(kind: "view", name: name, known: all)
        }
    }

    /// The streams the views `names` read together, each once, in the order the
    /// views first need them. Throws `unknown` for a name not in `all`.
    public static func inputs(of names: [String]) throws -> [NexmarkStreams.Stream] {
        var streams: [NexmarkStreams.Stream] = []
        for n in names { for s in try inputs(n) where !streams.contains(s) { streams.append(s) } }
        return streams
    }

    /// Adds the views `names` to `b` over `sources`, one source per stream they
    /// read (`inputs(of:)`): each source is added once, the bid source wrapped by
    /// `keyedBidSource`. The one wiring of the queries: `floe nexmark run` (over
    /// the generator or a log) and `floe pipeline run` (over a log) both use it.
    ///
    /// With `latenessMicros` every source is timed by its `date_time` with that
    /// allowed lateness (`PipelineBuilder.source(_:eventTime:latenessMicros:)`):
    /// late rows are dropped and counted, and the windowed queries clean the state
    /// of closed windows as Flink does for window aggregations and window joins:
    /// q5 (both aggregations and the join on the window start), q7 (the maximum
    /// per window and the join of the bids with it), q8 (both DISTINCT
    /// aggregations and the join on seller and window). Their views then equal the
    /// queries over the rows that were not late. Without it (the default) nothing
    /// is dropped or cleaned and every view is exact over all input. q9 (with a
    /// lateness) also expires its join and top-N state by `expires`, as an
    /// interval join does (`addQ9`).
    /// Throws `invalidArgument` naming a stream with no source, and `add`'s errors.
    public static func add(_ names: [String], to b: PipelineBuilder, sources: [NexmarkStreams.Stream: any Source],
                           latenessMicros: Int64? = nil) throws {
        var streams: [NexmarkStreams.Stream: PipelineBuilder.Stream] = [:]
        for s in try inputs(of: names) {
            guard let source = sources[s] else {
                throw DataflowError.invalidArgument("\(names.joined(separator: ", ")) need the \(s.topic) stream, which has no source")
            }
            streams[s] = try Self.source(s == .bid ? try keyedBidSource(source) : source, stream: s, to: b, latenessMicros: latenessMicros)
        }
        for n in names { try add(n, to: b, person: streams[.person], auction: streams[.auction], bid: streams[.bid]) }
    }

    /// Adds `source` (of `stream`) to `b`: timed by `date_time` with the lateness
    /// when there is one, else untimed.
    public static func source(_ source: any Source, stream: NexmarkStreams.Stream, to b: PipelineBuilder,
                              latenessMicros: Int64?) throws -> PipelineBuilder.Stream {
        guard let latenessMicros else { return b.source(source) }
        return try b.source(source, eventTime: stream.timeColumn, latenessMicros: latenessMicros)
    }

    /// `all` for "all"; else the one view, named `nexmark_qN` or `qN`. Throws
    /// `unknown` (listing the queries) for another name.
    public static func names(_ query: String) throws -> [String] {
        if query == "all" { return all }
        let name = query.hasPrefix("nexmark_") ? query : "nexmark_" + query
        guard all.contains(name) else {
            throw DataflowError.unknown(kind: "query", name: query, known: all.map { String($0.dropFirst(8)) } + ["all"])
        }
        return [name]
    }

    /// Adds view `name` (one of `all`) over the streams it reads (`inputs`).
    /// Throws `unknown` for another name, `invalidArgument` when a stream it reads
    /// is nil or the bid stream lacks `rowKey`, and the builder's errors.
    public static func add(_ name: String, to b: PipelineBuilder, person: PipelineBuilder.Stream?, auction: PipelineBuilder.Stream?,
                           bid: PipelineBuilder.Stream?) throws {
        func need(_ s: PipelineBuilder.Stream?, _ what: String) throws -> PipelineBuilder.Stream {
            guard let s else { throw DataflowError.invalidArgument("\(name) needs the \(what) stream") }
            if what == "bid", !s.schema.names.contains(rowKey) {
                throw DataflowError.invalidArgument("\(name): the bid stream has no hidden key \(rowKey); make its source with NexmarkQueries.keyedBidSource")
            }
            return s
        }
        let bidColumns = NexmarkStreams.bidSchema.names
        switch name {
        case q0:
            // SELECT auction, bidder, price, date_time, extra FROM bid  (all columns)
            try b.materialize(try need(bid, "bid"), as: q0, primaryKey: [rowKey], columns: bidColumns)
        case q1:
            // SELECT auction, bidder, 0.908 * price AS price, date_time, extra FROM bid
            let m = try b.map(try need(bid, "bid"), [("auction", .column("auction")), ("bidder", .column("bidder")),
                                                      ("price", .times("price", decimal: "0.908")), ("date_time", .column("date_time")),
                                                      ("extra", .column("extra")), (rowKey, .column(rowKey))])
            try b.materialize(m, as: q1, primaryKey: [rowKey], columns: ["auction", "bidder", "price", "date_time", "extra"])
        case q2:
            // SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0
            let bids = try need(bid, "bid")
            let a = try bids.schema.index(of: "auction")
            let f = b.filter(bids, name: "auction % 123 = 0") { c, r in c.int(a, r) % 123 == 0 }
            try b.materialize(f, as: q2, primaryKey: [rowKey], columns: ["auction", "price"])
        case q3:
            try addQ3(b, auction: try need(auction, "auction"), person: try need(person, "person"))
        case q4:
            try addQ4(b, auction: try need(auction, "auction"), bid: try need(bid, "bid"))
        case q5:
            try addQ5(b, bid: try need(bid, "bid"))
        case q7:
            try addQ7(b, bid: try need(bid, "bid"))
        case q8:
            try addQ8(b, person: try need(person, "person"), auction: try need(auction, "auction"))
        case q9:
            try addQ9(b, auction: try need(auction, "auction"), bid: try need(bid, "bid"))
        default:
            throw DataflowError.unknown(kind: "view", name: name, known: all)
        }
    }

    /// SELECT P.name, P.city, P.state, A.id FROM auction A JOIN person P ON A.seller = P.id
    /// WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')
    static func addQ3(_ b: PipelineBuilder, auction: PipelineBuilder.Stream, person: PipelineBuilder.Stream) throws {
        let cat = try auction.schema.index(of: "category")
        let a = b.filter(auction, name: "category = 10") { c, r in c.int(cat, r) == 10 }
        let st = try person.schema.index(of: "state")
        let p = b.filter(person, name: "state in (OR, ID, CA)") { c, r in
            let s = c.bytes(st, r)
            return s.elementsEqual("OR".utf8) || s.elementsEqual("ID".utf8) || s.elementsEqual("CA".utf8)
        }
        let j = try b.join(a, p, leftKey: ["seller"], rightKey: ["id"], leftPrimaryKey: ["id"], rightPrimaryKey: ["id"],
                           select: [(1, "name", "name"), (1, "city", "city"), (1, "state", "state"), (0, "id", "id")])
        try b.materialize(j, as: q3, primaryKey: ["id"])
    }

    /// SELECT Q.category, AVG(Q.final) FROM (SELECT MAX(B.price) AS final, A.category FROM auction A, bid B
    /// WHERE A.id = B.auction AND B.date_time BETWEEN A.date_time AND A.expires GROUP BY A.id, A.category) Q
    /// GROUP BY Q.category
    static func addQ4(_ b: PipelineBuilder, auction: PipelineBuilder.Stream, bid: PipelineBuilder.Stream) throws {
        let j = try b.join(auction, bid, leftKey: ["id"], rightKey: ["auction"], leftPrimaryKey: ["id"], rightPrimaryKey: [rowKey],
                           select: [(0, "id", "id"), (0, "category", "category"), (0, "date_time", "date_time"), (0, "expires", "expires"),
                                    (1, "price", "price"), (1, "date_time", "bid_date_time")])
        let inRange = try between(b, j, "bid_date_time", "date_time", "expires")
        let finals = try b.aggregate(inRange, groupBy: ["id", "category"], [.max("price", as: "final")])
        let avg = try b.aggregate(finals, groupBy: ["category"], [.avg("final", as: "avg_final")])
        try b.materialize(avg, as: q4, primaryKey: ["category"])
    }

    /// SELECT AuctionBids.auction, AuctionBids.num FROM
    ///   (SELECT auction, count(*) AS num, window_start AS starttime, window_end AS endtime
    ///    FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
    ///    GROUP BY auction, window_start, window_end) AS AuctionBids
    /// JOIN (SELECT max(CountBids.num) AS maxn, CountBids.starttime, CountBids.endtime FROM (same) AS CountBids
    ///    GROUP BY CountBids.starttime, CountBids.endtime) AS MaxBids
    /// ON AuctionBids.starttime = MaxBids.starttime AND AuctionBids.endtime = MaxBids.endtime AND AuctionBids.num >= MaxBids.maxn
    static func addQ5(_ b: PipelineBuilder, bid: PipelineBuilder.Stream) throws {
        let h = try b.hop(bid, time: "date_time", sizeMicros: tenSeconds, slideMicros: 2_000_000)
        let counts = try b.aggregate(h, groupBy: ["auction", "window_start", "window_end"], [.count(as: "num")])
        let maxes = try b.aggregate(counts, groupBy: ["window_start", "window_end"], [.max("num", as: "maxn")])
        let j = try b.join(counts, maxes, leftKey: ["window_start"], rightKey: ["window_start"],
                           leftPrimaryKey: ["auction", "window_start"], rightPrimaryKey: ["window_start"],
                           select: [(0, "auction", "auction"), (0, "num", "num"), (0, "window_start", "starttime"), (1, "maxn", "maxn")])
        let num = try j.schema.index(of: "num"), maxn = try j.schema.index(of: "maxn")
        let hot = b.filter(j, name: "num >= maxn") { c, r in c.int(num, r) >= c.int(maxn, r) }
        try b.materialize(hot, as: q5, primaryKey: ["auction", "starttime"], columns: ["auction", "num"])
    }

    /// SELECT B.auction, B.price, B.bidder, B.date_time, B.extra FROM bid B
    /// JOIN (SELECT MAX(price) AS maxprice, window_end AS date_time
    ///       FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '10' SECOND))
    ///       GROUP BY window_start, window_end) B1
    /// ON B.price = B1.maxprice WHERE B.date_time BETWEEN B1.date_time - INTERVAL '10' SECOND AND B1.date_time
    ///
    /// Plan: a bid at t matches the windows [start, start + 10 s] (closed) that hold
    /// it: a hop of size 10 s + 1 µs and slide 10 s gives each of them (two for a t
    /// on a window boundary), so the join is an equi-join on (window start, price).
    static func addQ7(_ b: PipelineBuilder, bid: PipelineBuilder.Stream) throws {
        let w = try b.tumble(bid, time: "date_time", sizeMicros: tenSeconds)
        let maxes = try b.aggregate(w, groupBy: ["window_start"], [.max("price", as: "maxprice")])
        let closed = try b.hop(bid, time: "date_time", sizeMicros: tenSeconds + 1, slideMicros: tenSeconds)
        let j = try b.join(closed, maxes, leftKey: ["window_start", "price"], rightKey: ["window_start", "maxprice"],
                           leftPrimaryKey: [rowKey], rightPrimaryKey: ["window_start"],
                           select: [(0, "auction", "auction"), (0, "price", "price"), (0, "bidder", "bidder"), (0, "date_time", "date_time"),
                                    (0, "extra", "extra"), (0, rowKey, rowKey), (0, "window_start", "window_start")])
        try b.materialize(j, as: q7, primaryKey: [rowKey, "window_start"], columns: ["auction", "price", "bidder", "date_time", "extra"])
    }

    /// SELECT P.id, P.name, P.starttime FROM
    ///   (SELECT id, name, window_start AS starttime, window_end AS endtime
    ///    FROM TABLE(TUMBLE(TABLE person, DESCRIPTOR(date_time), INTERVAL '10' SECOND))
    ///    GROUP BY id, name, window_start, window_end) P
    /// JOIN (SELECT seller, window_start AS starttime, window_end AS endtime
    ///    FROM TABLE(TUMBLE(TABLE auction, DESCRIPTOR(date_time), INTERVAL '10' SECOND))
    ///    GROUP BY seller, window_start, window_end) A
    /// ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime
    static func addQ8(_ b: PipelineBuilder, person: PipelineBuilder.Stream, auction: PipelineBuilder.Stream) throws {
        let pw = try b.tumble(person, time: "date_time", sizeMicros: tenSeconds)
        let p = try b.aggregate(pw, groupBy: ["id", "name", "window_start", "window_end"], [])
        let aw = try b.tumble(auction, time: "date_time", sizeMicros: tenSeconds)
        let a = try b.aggregate(aw, groupBy: ["seller", "window_start", "window_end"], [])
        let j = try b.join(p, a, leftKey: ["id", "window_start"], rightKey: ["seller", "window_start"],
                           leftPrimaryKey: ["id", "name", "window_start"], rightPrimaryKey: ["seller", "window_start"],
                           select: [(0, "id", "id"), (0, "name", "name"), (0, "window_start", "starttime")])
        try b.materialize(j, as: q8, primaryKey: ["id", "name", "starttime"])
    }

    /// SELECT id, item_name, description, initial_bid, reserve, date_time, expires, seller, category, extra,
    ///        auction, bidder, price, bid_date_time, bid_extra FROM (
    ///   SELECT A.*, B.auction, B.bidder, B.price, B.date_time AS bid_date_time, B.extra AS bid_extra,
    ///          ROW_NUMBER() OVER (PARTITION BY A.id ORDER BY B.price DESC, B.date_time ASC) AS rownum
    ///   FROM auction A, bid B WHERE A.id = B.auction AND B.date_time BETWEEN A.date_time AND A.expires)
    /// WHERE rownum <= 1
    ///
    /// Ties of (price, date_time) are broken by the bid's source position (SQL leaves them open).
    ///
    /// With event time (a lateness), state expires as in Flink's interval join: an
    /// auction leaves the join once the watermark passes its `expires` (a later bid
    /// is after it), a bid once the watermark passes its own `date_time` (a later
    /// auction starts after it), and the top-N, grouped by (expires, id) (the same
    /// groups: an auction has one `expires`), drops an auction's rows once the
    /// watermark passes `expires` (every row the interval filter lets through
    /// later has `expires` at or above the watermark).
    static func addQ9(_ b: PipelineBuilder, auction: PipelineBuilder.Stream, bid: PipelineBuilder.Stream) throws {
        let auctionColumns = NexmarkStreams.auctionSchema.names
        let bidPart: [(String, String)] = [("auction", "auction"), ("bidder", "bidder"), ("price", "price"), ("date_time", "bid_date_time"),
                                           ("extra", "bid_extra"), (rowKey, rowKey)]
        let timed = b.isTimed(auction) && b.isTimed(bid)
        let j = try b.join(auction, bid, leftKey: ["id"], rightKey: ["auction"], leftPrimaryKey: ["id"], rightPrimaryKey: [rowKey],
                           select: auctionColumns.map { (0, $0, $0) } + bidPart.map { (1, $0.0, $0.1) },
                           expireLeftAt: timed ? "expires" : nil, expireRightAt: timed ? "date_time" : nil)
        let inRange = try between(b, j, "bid_date_time", "date_time", "expires")
        let top = try b.topN(inRange, groupBy: timed ? ["expires", "id"] : ["id"], orderBy: [("price", true), ("bid_date_time", false)],
                             primaryKey: [rowKey], limit: 1, closesAt: timed ? "expires" : nil)
        try b.materialize(top, as: q9, primaryKey: ["id"], columns: auctionColumns + bidPart.dropLast().map(\.1))
    }

    /// The rows whose `time` lies in [`low`, `high`] (SQL's BETWEEN), all timestamps.
    static func between(_ b: PipelineBuilder, _ s: PipelineBuilder.Stream, _ time: String, _ low: String, _ high: String) throws -> PipelineBuilder.Stream {
        let t = try s.schema.index(of: time), lo = try s.schema.index(of: low), hi = try s.schema.index(of: high)
        return b.filter(s, name: "\(time) between \(low) and \(high)") { c, r in
            let x = c.int(t, r)
            return x >= c.int(lo, r) && x <= c.int(hi, r)
        }
    }
}
