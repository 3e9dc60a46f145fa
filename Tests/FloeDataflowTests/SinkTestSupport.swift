import Foundation
import Testing
@testable import FloeDataflow

/// Rows, models and scratch directories shared by the sink tests.
///
/// Expected text forms are written out literally here (not produced by
/// `ValueText`), so the tests check the sinks' output against the documented
/// forms rather than against the code that formats them.
enum SinkFixtures {
    /// `id int64, price decimal(2), at timestamp, name string`.
    static let orders = Schema([
        ColumnDef("id", .int64), ColumnDef("price", .decimal(scale: 2)),
        ColumnDef("at", .timestamp), ColumnDef("name", .bytes),
    ])
    /// `k string, n int64`: a second view in the same sink.
    static let totals = Schema([ColumnDef("k", .bytes), ColumnDef("n", .int64)])

    static let ids: [Int64] = [0, 1, -1, 42, Int64.max, Int64.min]
    /// Decimals at scale 2: (exact text, value times 100).
    static let prices: [(String, Int64)] = [
        ("0.00", 0), ("-0.05", -5), ("1.50", 150), ("123.45", 12345),
        ("92233720368547758.07", Int64.max), ("-92233720368547758.08", Int64.min),
    ]
    /// Timestamps: (text, microseconds since 1970-01-01 00:00:00 UTC).
    static let times: [(String, Int64)] = [
        ("1970-01-01 00:00:00", 0), ("1969-12-31 23:59:59", -1_000_000),
        ("1969-12-31 23:59:59.999999", -1), ("2000-01-01 00:00:00.000001", 946_684_800_000_001),
        ("2024-02-29 23:59:59", 1_709_251_199_000_000), ("1900-03-01 12:34:56", -2_203_845_904_000_000),
        ("2100-12-31 23:59:59", 4_133_980_799_000_000),
    ]
    /// Strings that need CSV quoting, SQL quoting or are not ASCII.
    static let names: [String] = [
        "", "plain", "a,b", "say \"hi\"", "line1\nline2", "cr\r\nlf", "\"", ",", "日本語", "emoji 🙂",
        " lead", "trail ", "tab\tx", "O'Brien'); DROP TABLE orders;--",
    ]

    static func ordersChunk(_ changes: [(ChangeOp, OrderRow)]) -> Chunk {
        var chunk = Chunk(schema: orders)
        for (op, row) in changes {
            chunk.appendOp(op)
            chunk.appendInt(0, row.id)
            chunk.appendInt(1, prices[row.price].1)
            chunk.appendInt(2, times[row.time].1)
            chunk.appendBytes(3, Array(row.name.utf8))
        }
        return chunk
    }

    static func totalsChunk(_ changes: [(ChangeOp, TotalRow)]) -> Chunk {
        var chunk = Chunk(schema: totals)
        for (op, row) in changes {
            chunk.appendOp(op)
            chunk.appendBytes(0, Array(row.k.utf8))
            chunk.appendInt(1, row.n)
        }
        return chunk
    }

    /// The text rows a sink must return for `model`.
    static func expected(_ model: Multiset<OrderRow>) -> [[String]] { sorted(model.elements.map(\.fields)) }
    static func expected(_ model: Multiset<TotalRow>) -> [[String]] { sorted(model.elements.map(\.fields)) }

    /// Sorted as the sink protocol documents: by fields, each by its UTF-8 bytes.
    static func sorted(_ rows: [[String]]) -> [[String]] {
        rows.sorted { a, b in a.lexicographicallyPrecedes(b) { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) } }
    }
}

/// One row of `orders`, with the text the sink must show for it.
struct OrderRow: Hashable {
    var id: Int64
    /// An index into `SinkFixtures.prices`.
    var price: Int
    /// An index into `SinkFixtures.times`.
    var time: Int
    var name: String

    var fields: [String] { [String(id), SinkFixtures.prices[price].0, SinkFixtures.times[time].0, name] }

    static func random(_ g: inout SeededGenerator) -> OrderRow {
        OrderRow(id: SinkFixtures.ids[Int(g.next() % UInt64(SinkFixtures.ids.count))], price: Int(g.next() % UInt64(SinkFixtures.prices.count)),
                 time: Int(g.next() % UInt64(SinkFixtures.times.count)), name: SinkFixtures.names[Int(g.next() % UInt64(SinkFixtures.names.count))])
    }
}


/// A multiset: what a sink must hold, as the test's own rows.
struct Multiset<Element: Hashable> {
    private(set) var counts: [Element: Int] = [:]

    func count(_ e: Element) -> Int { counts[e] ?? 0 }

    mutating func add(_ e: Element, _ n: Int) {
        let c = count(e) + n
        precondition(c >= 0, "model: removing an element not held")
        counts[e] = c == 0 ? nil : c
    }

    /// Every element as often as held, in no particular order.
    var elements: [Element] { counts.flatMap { e, n in Array(repeating: e, count: n) } }
}

/// A row of the `totals` view.
struct TotalRow: Hashable {
    var k: String
    var n: Int64
    var fields: [String] { [k, String(n)] }
}

/// A scratch directory, removed by `remove()`.
struct ScratchDirectory {
    let path: String

    init(_ label: String) throws {
        var template = Array((FileManager.default.temporaryDirectory.path + "/floe-\(label)-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard let made else { throw DataflowError.invalidArgument("mkdtemp failed") }
        path = String(cString: made)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// The error's message when `body` throws `DataflowError.sink`; nil (and a
/// recorded issue) otherwise.
func sinkError(_ context: String, _ body: () throws -> Void) -> String? {
    do {
        try body()
        Issue.record("\(context): expected DataflowError.sink, nothing was thrown")
    } catch let DataflowError.sink(message) {
        return message
    } catch {
        Issue.record("\(context): expected DataflowError.sink, got \(error)")
    }
    return nil
}
