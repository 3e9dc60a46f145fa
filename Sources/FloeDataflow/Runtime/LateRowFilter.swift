/// Drops the late rows of one source partition and gives its watermark.
///
/// With an event-time column and an allowed lateness `L`, a row is late when its
/// event time is below `M - L`, `M` being the largest event time among the rows
/// of the partition before it (a late row is below `M`, so it never raises `M`).
/// The decision depends on the partition's row order alone, never on barrier
/// timing: started from a committed `SourcePosition`, a recovered run drops the
/// same rows as a failure-free one. The watermark `M - L` then bounds every row
/// kept later, which is what lets windows close (`Watermark`).
///
/// Without an event-time column it keeps every row and its watermark is
/// `Watermark.none`. Per row: one compare (and a second when the row raises `M`);
/// a chunk with no late row is left as it is, one with late rows is compacted
/// through a scratch chunk of the same columns (no allocation once it has grown).
struct LateRowFilter: Sendable {
    /// The event-time column (a timestamp) of the source's rows, or nil.
    let column: Int?
    let lateness: Int64
    private(set) var maxEventTime: Int64
    private(set) var lateRows: UInt64
    /// `maxEventTime - lateness`: rows below it are late.
    private(set) var watermark: Int64

    /// Continues from `position` (the committed one, or the start of the partition).
    init(column: Int?, latenessMicros: Int64, from position: SourcePosition) {
        self.column = column
        lateness = latenessMicros
        maxEventTime = column == nil ? Watermark.none : position.maxEventTime
        lateRows = position.lateRows
        watermark = column == nil ? Watermark.none : Watermark.below(position.maxEventTime, by: latenessMicros)
    }

    /// The partition's position after a row at `offset` (for the next barrier).
    func position(offset: UInt64) -> SourcePosition {
        SourcePosition(offset: offset, maxEventTime: maxEventTime, lateRows: lateRows)
    }

    /// Removes the late rows of `chunk` (rows in partition order), counting them
    /// and raising the max event time; `scratch` (same columns) is working space.
    mutating func apply(_ chunk: inout Chunk, scratch: inout Chunk) {
        guard let column, !chunk.isEmpty else { return }
        let times = chunk.integers(column)
        var maxTime = maxEventTime, bound = watermark, late = 0
        times.withUnsafeBufferPointer { t in
            for r in 0..<t.count {
                let time = t[r]
                if time < bound {
                    if late == 0 {
                        scratch.removeAll()
                        for k in 0..<r { scratch.appendRow(of: chunk, k, op: chunk.op(k)) }
                    }
                    late += 1
                    continue
                }
                if time > maxTime {
                    maxTime = time
                    bound = Watermark.below(time, by: lateness)
                }
                if late > 0 { scratch.appendRow(of: chunk, r, op: chunk.op(r)) }
            }
        }
        maxEventTime = maxTime
        watermark = bound
        if late > 0 {
            lateRows += UInt64(late)
            swap(&chunk, &scratch)
        }
    }
}
