/// Column-at-a-time appends for sources that fill a chunk in bulk (the log and
/// generator readers): a run of rows is appended as its ops, then each column's
/// values, instead of row by row.
///
/// Invariant for callers: between `appendOps(_:count:)` and the last column of
/// the same run the chunk is not well formed; every column must receive exactly
/// `count` values before the chunk is used again.
extension Chunk {
    /// Appends `count` rows' ops at once.
    mutating func appendOps(_ op: ChangeOp, count: Int) {
        _ops.append(contentsOf: repeatElement(op, count: count))
    }

    /// Appends `values` to integer-like column `column`.
    mutating func appendInts(_ column: Int, _ values: UnsafeBufferPointer<Int64>) {
        ints[column].append(contentsOf: values)
    }

    /// Runs `body` with string column `column`'s byte arena and row ends moved out
    /// of the chunk (no copy), so it can append to them as plain local arrays. An
    /// appended row's value is `arena[previous end..<its end]`.
    mutating func withStringColumn<R>(_ column: Int, _ body: (inout [UInt8], inout [Int]) throws -> R) rethrows -> R {
        var arena: [UInt8] = []
        var rowEnds: [Int] = []
        swap(&arena, &arenas[column])
        swap(&rowEnds, &ends[column])
        defer {
            swap(&arena, &arenas[column])
            swap(&rowEnds, &ends[column])
        }
        return try body(&arena, &rowEnds)
    }
}
