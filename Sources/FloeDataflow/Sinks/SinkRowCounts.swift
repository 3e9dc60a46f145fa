/// A multiset of rows of one schema, each row held as its `RowCodec` encoding
/// with its count. Invariant: every count in `counts` is positive.
struct SinkRowCounts {
    let types: [ColumnType]
    private(set) var counts: [[UInt8]: Int] = [:]

    init(types: [ColumnType]) { self.types = types }

    /// How many times the row encoded as `key` is held.
    func count(_ key: [UInt8]) -> Int { counts[key] ?? 0 }

    /// Adds `delta` copies of the row (removes them when negative).
    /// - Precondition: the result is not negative.
    mutating func add(_ key: [UInt8], _ delta: Int) {
        let n = count(key) + delta
        precondition(n >= 0, "SinkRowCounts: removing a row not held")
        counts[key] = n == 0 ? nil : n
    }

    /// Every row, as many times as held, as `ValueText` fields in `SinkRowOrder`.
    /// Throws `DataflowError.invalidArgument` if a key does not decode (a bug:
    /// keys are built by `RowCodec.append` for these types).
    func sortedRows() throws -> [[String]] {
        var out: [[String]] = []
        var chunk = Chunk(types: types, capacity: 1)
        let columns = Array(types.indices)
        for (key, n) in counts {
            chunk.removeAll()
            try key.withUnsafeBytes { try RowCodec.decode($0, types: types, into: &chunk, columns: columns, op: .insert) }
            let fields = chunk.fields(0)
            for _ in 0..<n { out.append(fields) }
        }
        return SinkRowOrder.sorted(out)
    }
}
