import Floe
@testable import FloeDataflow

/// A source over fixed rows given as text, partition by partition (tests only).
struct RowsSource: Source {
    let name: String
    let schema: Schema
    let rows: [[[String]]]
    var partitions: Int { rows.count }

    func reader(partition: Int, from offset: UInt64) async throws -> any SourceReader {
        Reader(schema: schema, rows: rows[partition], offset: offset)
    }

    func endOffsets() async throws -> [UInt64] { rows.map { UInt64($0.count) } }

    struct Reader: SourceReader {
        let schema: Schema
        let rows: [[String]]
        var offset: UInt64

        mutating func read(into chunk: inout Chunk, max: Int) async throws -> SourceRead {
            guard offset < rows.count else { return .end }
            let n = min(max, rows.count - Int(offset))
            for r in Int(offset)..<(Int(offset) + n) {
                chunk.appendOp(.insert)
                for (c, col) in schema.columns.enumerated() {
                    if col.type.isInteger {
                        guard let v = ValueText.parse(rows[r][c], col.type) else {
                            throw DataflowError.malformedValue(location: "row \(r)", column: col.name, type: "\(col.type)", text: rows[r][c])
                        }
                        chunk.appendInt(c, v)
                    } else {
                        chunk.appendBytes(c, Array(rows[r][c].utf8))
                    }
                }
            }
            offset += UInt64(n)
            return .rows(n)
        }
    }
}

enum EoTestData {
    static let orders = Schema([ColumnDef("order_id", .int64), ColumnDef("category", .bytes), ColumnDef("amount", .decimal(scale: 2)),
                                ColumnDef("event_time", .timestamp)])
    static let payments = Schema([ColumnDef("payment_id", .int64), ColumnDef("order_id", .int64), ColumnDef("status", .bytes),
                                  ColumnDef("paid_at", .timestamp)])
    static let categories = ["Apparel", "Books", "Electronics", "Home, Garden", "Toys \"X\""]
    static let statuses = ["confirmed", "pending", "failed"]

    /// Random orders and payments (as text), split over partitions.
    static func make(_ g: inout SeededGenerator, orders n: Int, payments m: Int, partitions p: Int) -> (orders: [[[String]]], payments: [[[String]]]) {
        var o: [[[String]]] = Array(repeating: [], count: p), q: [[[String]]] = Array(repeating: [], count: p)
        for i in 0..<n {
            let cents = Int(g.next() % 99_999) + 1
            let amount = "\(cents / 100).\(cents % 100 < 10 ? "0" : "")\(cents % 100)"
            let minute = Int(g.next() % 60), second = Int(g.next() % 60)
            let time = "2026-04-01 10:\(minute < 10 ? "0" : "")\(minute):\(second < 10 ? "0" : "")\(second)"
            o[Int(g.next() % UInt64(p))].append(["\(i + 1)", categories[Int(g.next() % UInt64(categories.count))], amount, time])
        }
        for j in 0..<m {
            let order = Int(g.next() % UInt64(n + 5)) + 1
            q[Int(g.next() % UInt64(p))].append(["\(j + 1)", "\(order)", statuses[Int(g.next() % 3)], "2026-04-01 11:00:00"])
        }
        return (o, q)
    }

    /// The three views evaluated directly on the rows, as sorted text rows.
    static func expected(orders: [[[String]]], payments: [[[String]]]) -> [String: [[String]]] {
        let all = orders.flatMap { $0 }, pays = payments.flatMap { $0 }
        func cents(_ s: String) -> Int { let p = s.split(separator: "."); return Int(p[0])! * 100 + Int(p[1])! }
        func money(_ c: Int) -> String { "\(c / 100).\(c % 100 < 10 ? "0" : "")\(c % 100)" }
        var byCategory: [String: (Int, Int)] = [:]
        var byWindow: [[String]: (Int, Int)] = [:]
        for r in all {
            byCategory[r[1], default: (0, 0)].0 += 1
            byCategory[r[1], default: (0, 0)].1 += cents(r[2])
            // Five-minute windows of 10:MM:SS.
            let minute = Int(r[3].dropFirst(14).prefix(2))!
            let start = minute / 5 * 5, end = start + 5
            func hm(_ m: Int) -> String { m == 60 ? "2026-04-01 11:00:00" : "2026-04-01 10:\(m < 10 ? "0" : "")\(m):00" }
            byWindow[[r[1], hm(start), hm(end)], default: (0, 0)].0 += 1
            byWindow[[r[1], hm(start), hm(end)], default: (0, 0)].1 += cents(r[2])
        }
        let revenue = byCategory.map { cat, v -> [String] in
            // Average at six places, rounded half up (amounts are positive).
            let scaled = (v.1 * 10_000 * 2 + v.0) / (2 * v.0)
            let frac = String(scaled % 1_000_000)
            return [cat, "\(v.0)", money(v.1), "\(scaled / 1_000_000).\(String(repeating: "0", count: 6 - frac.count))\(frac)"]
        }
        let windows = byWindow.map { k, v in k + ["\(v.0)", money(v.1)] }
        var ordersById: [String: [String]] = [:]
        for r in all { ordersById[r[0]] = r }
        var matches: [[String]] = []
        for p in pays where p[2] == "confirmed" {
            if let o = ordersById[p[1]] { matches.append([o[0], o[1], o[2], "confirmed"]) }
        }
        func sorted(_ rows: [[String]]) -> [[String]] { rows.sorted { $0.lexicographicallyPrecedes($1) } }
        return [EoViews.revenue: sorted(revenue), EoViews.windows: sorted(windows), EoViews.paymentMatch: sorted(matches)]
    }
}
