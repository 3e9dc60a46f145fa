import Floe

/// A stateless operator: filter, project, map, or any function of a chunk to a
/// chunk that treats every row alone (so it commutes with barriers and needs no
/// state). Runs chained in the task of the operator before it.
public struct Transform: StreamOperator {
    public let outputTypes: [ColumnType]
    private let body: @Sendable (Chunk, inout Chunk) throws -> Void

    /// `body` appends to its second argument (typed `outputTypes`) the changes
    /// that follow from the rows of its first; it is called once per chunk.
    public init(outputTypes: [ColumnType], _ body: @escaping @Sendable (Chunk, inout Chunk) throws -> Void) {
        self.outputTypes = outputTypes
        self.body = body
    }

    public mutating func process(_ chunk: Chunk, input: Int, epoch: Epoch, into out: inout Chunk) async throws {
        try body(chunk, &out)
    }

    /// Keeps columns `columns` in that order.
    public static func project(_ input: [ColumnType], _ columns: [Int]) -> Transform {
        Transform(outputTypes: columns.map { input[$0] }) { c, out in
            out.reserve(out.count + c.count)
            for r in 0..<c.count {
                out.appendOp(c.op(r))
                for (i, col) in columns.enumerated() {
                    if c.types[col].isInteger { out.appendInt(i, c.int(col, r)) } else { out.appendBytes(i, c.bytes(col, r)) }
                }
            }
        }
    }

    /// Keeps the rows for which `keep(chunk, row)` holds.
    public static func filter(_ input: [ColumnType], _ keep: @escaping @Sendable (Chunk, Int) -> Bool) -> Transform {
        Transform(outputTypes: input) { c, out in
            for r in 0..<c.count where keep(c, r) { out.appendRow(of: c, r, op: c.op(r)) }
        }
    }

    /// Keeps the rows whose string column `column` equals `value`.
    public static func filterEquals(_ input: [ColumnType], column: Int, _ value: [UInt8]) -> Transform {
        filter(input) { c, r in c.bytes(column, r).elementsEqual(value) }
    }

    /// Appends the tumbling window of the timestamp column `column`: `window_start`
    /// and `window_end` (timestamps), the window of length `size` (microseconds)
    /// that holds the row, aligned to 1970-01-01 00:00:00 UTC.
    public static func tumble(_ input: [ColumnType], timeColumn column: Int, sizeMicros size: Int64) -> Transform {
        let n = input.count
        return Transform(outputTypes: input + [.timestamp, .timestamp]) { c, out in
            for r in 0..<c.count {
                out.appendRow(of: c, r, op: c.op(r))
                let t = c.int(column, r)
                let start = t >= 0 ? t - t % size : t - ((t % size) + size) % size
                out.appendInt(n, start)
                out.appendInt(n + 1, start + size)
            }
        }
    }

    /// Hopping windows: every window of length `size` that starts at a multiple of
    /// `slide` and holds the row's time gets a copy of the row with its
    /// `window_start` and `window_end` appended (size / slide copies when slide divides size).
    public static func hop(_ input: [ColumnType], timeColumn column: Int, sizeMicros size: Int64, slideMicros slide: Int64) -> Transform {
        let n = input.count
        return Transform(outputTypes: input + [.timestamp, .timestamp]) { c, out in
            for r in 0..<c.count {
                let t = c.int(column, r)
                // The latest window start at or before t, then back while the window still holds t.
                var start = t >= 0 ? t - t % slide : t - ((t % slide) + slide) % slide
                while start + size > t {
                    out.appendRow(of: c, r, op: c.op(r))
                    out.appendInt(n, start)
                    out.appendInt(n + 1, start + size)
                    start -= slide
                }
            }
        }
    }
}
