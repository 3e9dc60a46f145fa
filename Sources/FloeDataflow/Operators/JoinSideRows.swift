/// The rows one side of a `HashJoin` holds in memory for one join key, found by
/// primary key in constant time once there are many.
///
/// A delete must find the row with its primary key among all the rows of its join
/// key. A key with few rows is searched linearly (no index to build or keep); past
/// `indexThreshold` rows an index from primary key to position is built and kept,
/// so a hot key (q5's window, with every auction's count in it) costs O(1) per
/// delete instead of O(rows). Removal swaps the last row into the hole: the order of
/// the rows is not preserved (a join's output for one input row is a set).
struct JoinSideRows: Sendable {
    /// The two sides' rows of one join key, inline (no array to allocate per key).
    struct Pair: Sendable {
        var left = JoinSideRows()
        var right = JoinSideRows()

        subscript(_ side: Int) -> JoinSideRows {
            _read {
                if side == 0 { yield left } else { yield right }
            }
            _modify {
                if side == 0 { yield &left } else { yield &right }
            }
        }
    }

    struct Row: Sendable {
        var pk: [UInt8]
        var bytes: [UInt8]
    }

    /// Rows above which deletes go through `positions`.
    static let indexThreshold = 16

    private(set) var rows: [Row] = []
    /// Primary key to index in `rows`; nil until `rows` outgrows `indexThreshold`.
    private var positions: [ByteKey: Int]?

    /// Bytes the rows take in the join's cache accounting (`size(of:)` summed),
    /// kept as rows come and go so that eviction reads no row.
    private(set) var cacheBytes = 0

    init(_ rows: [Row] = []) {
        self.rows = rows
        cacheBytes = rows.reduce(0) { $0 + Self.size(of: $1) }
        if rows.count > Self.indexThreshold { buildIndex() }
    }

    var count: Int { rows.count }

    /// A row's bytes in the join's cache accounting.
    static func size(of row: Row) -> Int { row.pk.count + row.bytes.count + 48 }

    mutating func append(_ row: Row) {
        rows.append(row)
        cacheBytes += Self.size(of: row)
        if positions != nil {
            positions![ByteKey(row.pk)] = rows.count - 1
        } else if rows.count > Self.indexThreshold {
            buildIndex()
        }
    }

    /// Removes the row whose primary key is `pk`; false when there is none.
    mutating func remove(pk: [UInt8]) -> Bool {
        let found: Int?
        if positions != nil {
            found = positions!.removeValue(forKey: ByteKey(pk))
        } else {
            found = rows.firstIndex { $0.pk == pk }
        }
        guard let i = found else { return false }
        let last = rows.count - 1
        if i != last {
            rows.swapAt(i, last)
            positions?[ByteKey(rows[i].pk)] = i
        }
        cacheBytes -= Self.size(of: rows[last])
        rows.removeLast()
        return true
    }

    private mutating func buildIndex() {
        var p = [ByteKey: Int](minimumCapacity: rows.count * 2)
        for (i, r) in rows.enumerated() { p[ByteKey(r.pk)] = i }
        positions = p
    }
}
