import Floe
@testable import FloeDataflow

/// Small seeded Nexmark event sets (ids in small ranges so that joins match
/// often, prices from a few values so that maxima tie, some bids on window
/// boundaries and some exact duplicates), and the queries evaluated over them
/// straight from their SQL with dictionaries and sorts.
struct NexmarkTestData {
    struct Person { var id: Int64; var name, email, card, city, state: String; var time: Int64; var extra: String }
    struct Auction { var id: Int64; var item, description: String; var initialBid, reserve, time, expires, seller, category: Int64; var extra: String }
    /// `rowID`: the bid's source position (partition << 40 | offset), the tie-break of q9.
    struct Bid { var auction, bidder, price: Int64; var channel, url: String; var time: Int64; var extra: String; var rowID: Int64 }

    /// 2023-11-14 22:13:20 UTC, a multiple of 10 s.
    static let base: Int64 = 1_700_000_000_000_000
    var persons: [[Person]]
    var auctions: [[Auction]]
    var bids: [[Bid]]

    static func ts(_ t: Int64) -> String { ValueText.format(t, .timestamp) }

    init(_ g: inout SeededGenerator, persons np: Int = 20, auctions na: Int = 30, bids nb: Int = 400, partitions: Int = 2) {
        func pick<T>(_ a: [T]) -> T { a[Int(g.next() % UInt64(a.count))] }
        func time() -> Int64 {
            var ms = Int64(g.next() % 60_000)
            switch g.next() % 10 {
            case 0: ms -= ms % 10_000   // on a 10 s boundary
            case 1: ms -= ms % 2_000    // on a 2 s boundary
            default: break
            }
            return NexmarkTestData.base + ms * 1000
        }
        persons = Array(repeating: [], count: partitions)
        auctions = Array(repeating: [], count: partitions)
        bids = Array(repeating: [], count: partitions)
        for i in 0..<np {
            let p = Person(id: Int64(i + 1), name: pick(["ann", "bob", "cy", "di"]), email: "p\(i)@x", card: "c\(i)", city: pick(["Boise", "Bend", "LA"]),
                           state: pick(["OR", "ID", "CA", "WA", "NY"]), time: time(), extra: "")
            persons[Int(g.next() % UInt64(partitions))].append(p)
        }
        for i in 0..<na {
            // Ids k * 41: every third one is a multiple of 123 (q2).
            let t = time()
            let a = Auction(id: Int64(i + 1) * 41, item: "item\(i)", description: "d", initialBid: 1, reserve: 2, time: t,
                            expires: t + Int64(g.next() % 20_000 + 1) * 1000, seller: Int64(g.next() % UInt64(np + 3)) + 1,
                            category: Int64(g.next() % 5) + 8, extra: pick(["", "e"]))
            auctions[Int(g.next() % UInt64(partitions))].append(a)
        }
        var all: [Bid] = []
        for _ in 0..<nb {
            var b: Bid
            if !all.isEmpty && g.next() % 20 == 0 {
                b = pick(all)   // an exact duplicate of an earlier bid
            } else {
                b = Bid(auction: Int64(g.next() % UInt64(na + 2) + 1) * 41, bidder: Int64(g.next() % 5), price: Int64(g.next() % 8 + 1) * 100,
                        channel: pick(["web", "app"]), url: "u", time: time(), extra: pick(["", "x"]), rowID: 0)
            }
            let p = Int(g.next() % UInt64(partitions))
            b.rowID = PositionKeyedSource.key(partition: p, offset: UInt64(bids[p].count))
            bids[p].append(b)
            all.append(b)
        }
    }

    /// The events of the first `fraction` of every partition (a prefix: what a source has read).
    func prefix(_ fraction: Double) -> NexmarkTestData {
        var d = self
        func cut<T>(_ a: [[T]]) -> [[T]] { a.map { Array($0.prefix(Int((Double($0.count) * fraction).rounded()))) } }
        d.persons = cut(persons)
        d.auctions = cut(auctions)
        d.bids = cut(bids)
        return d
    }

    func sources() throws -> (person: RowsSource, auction: RowsSource, bid: any Source) {
        let p = RowsSource(name: "person", schema: NexmarkStreams.personSchema, rows: persons.map { $0.map { p in
            ["\(p.id)", p.name, p.email, p.card, p.city, p.state, Self.ts(p.time), p.extra]
        } })
        let a = RowsSource(name: "auction", schema: NexmarkStreams.auctionSchema, rows: auctions.map { $0.map { a in
            ["\(a.id)", a.item, a.description, "\(a.initialBid)", "\(a.reserve)", Self.ts(a.time), Self.ts(a.expires), "\(a.seller)", "\(a.category)", a.extra]
        } })
        let b = RowsSource(name: "bid", schema: NexmarkStreams.bidSchema, rows: bids.map { $0.map { b in
            ["\(b.auction)", "\(b.bidder)", "\(b.price)", b.channel, b.url, Self.ts(b.time), b.extra]
        } })
        return (p, a, try NexmarkQueries.keyedBidSource(b))
    }

    static func sorted(_ rows: [[String]]) -> [[String]] { rows.sorted { $0.lexicographicallyPrecedes($1) } }

    /// View `name` evaluated from its SQL over all events (a multiset, as sorted text rows).
    func expected(_ name: String) -> [[String]] {
        let ps = persons.flatMap { $0 }, as_ = auctions.flatMap { $0 }, bs = bids.flatMap { $0 }
        let ten: Int64 = 10_000_000
        func floorTo(_ t: Int64, _ m: Int64) -> Int64 { t - ((t % m) + m) % m }
        var rows: [[String]] = []
        switch name {
        case NexmarkQueries.q0:
            rows = bs.map { ["\($0.auction)", "\($0.bidder)", "\($0.price)", $0.channel, $0.url, Self.ts($0.time), $0.extra] }
        case NexmarkQueries.q1:
            rows = bs.map { ["\($0.auction)", "\($0.bidder)", ValueText.formatDecimal($0.price * 908, scale: 3), Self.ts($0.time), $0.extra] }
        case NexmarkQueries.q2:
            rows = bs.filter { $0.auction % 123 == 0 }.map { ["\($0.auction)", "\($0.price)"] }
        case NexmarkQueries.q3:
            for a in as_ where a.category == 10 {
                for p in ps where p.id == a.seller && ["OR", "ID", "CA"].contains(p.state) { rows.append([p.name, p.city, p.state, "\(a.id)"]) }
            }
        case NexmarkQueries.q4:
            var finals: [Int64: (category: Int64, final: Int64)] = [:]
            for a in as_ {
                for b in bs where b.auction == a.id && b.time >= a.time && b.time <= a.expires {
                    finals[a.id] = (a.category, max(finals[a.id]?.final ?? b.price, b.price))
                }
            }
            var byCategory: [Int64: (sum: Int64, n: Int64)] = [:]
            for (_, f) in finals { byCategory[f.category, default: (0, 0)].sum += f.final; byCategory[f.category, default: (0, 0)].n += 1 }
            for (c, v) in byCategory {
                // AVG at scale 6, half away from zero (values are positive).
                let num = v.sum * 1_000_000
                rows.append(["\(c)", ValueText.formatDecimal((num * 2 + v.n) / (2 * v.n), scale: 6)])
            }
        case NexmarkQueries.q5:
            var counts: [[Int64]: Int64] = [:]   // [auction, window start] -> bids
            for b in bs {
                var s = floorTo(b.time, 2_000_000)
                while s + ten > b.time { counts[[b.auction, s], default: 0] += 1; s -= 2_000_000 }
            }
            var maxn: [Int64: Int64] = [:]
            for (k, n) in counts { maxn[k[1]] = max(maxn[k[1]] ?? n, n) }
            for (k, n) in counts where n >= maxn[k[1]]! { rows.append(["\(k[0])", "\(n)"]) }
        case NexmarkQueries.q7:
            var maxPrice: [Int64: Int64] = [:]   // window start -> max price
            for b in bs { let w = floorTo(b.time, ten); maxPrice[w] = max(maxPrice[w] ?? b.price, b.price) }
            for (w, m) in maxPrice {
                // window_end = w + 10 s; B.date_time BETWEEN window_end - 10 s AND window_end.
                for b in bs where b.price == m && b.time >= w && b.time <= w + ten {
                    rows.append(["\(b.auction)", "\(b.price)", "\(b.bidder)", Self.ts(b.time), b.extra])
                }
            }
        case NexmarkQueries.q8:
            var p = Set<[String]>()
            for x in ps { p.insert(["\(x.id)", x.name, Self.ts(floorTo(x.time, ten))]) }
            var a = Set<[String]>()
            for x in as_ { a.insert(["\(x.seller)", Self.ts(floorTo(x.time, ten))]) }
            rows = p.filter { a.contains([$0[0], $0[2]]) }.map { $0 }
        case NexmarkQueries.q9:
            for a in as_ {
                let best = bs.filter { $0.auction == a.id && $0.time >= a.time && $0.time <= a.expires }.min { x, y in
                    x.price != y.price ? x.price > y.price : x.time != y.time ? x.time < y.time : x.rowID < y.rowID
                }
                guard let b = best else { continue }
                rows.append(["\(a.id)", a.item, a.description, "\(a.initialBid)", "\(a.reserve)", Self.ts(a.time), Self.ts(a.expires), "\(a.seller)",
                             "\(a.category)", a.extra, "\(b.auction)", "\(b.bidder)", "\(b.price)", Self.ts(b.time), b.extra])
            }
        default:
            fatalError("no model for \(name)")
        }
        return Self.sorted(rows)
    }
}
