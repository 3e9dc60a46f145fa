/// The net effect of one epoch's chunk on a multiset of rows: for each
/// distinct row (by value, compared as its `RowCodec` encoding), the number of
/// inserts minus the number of deletes, in the order the rows first appear in
/// the chunk. Rows whose changes cancel out are left out.
///
/// Sinks apply these rather than the chunk's changes one by one, so a chunk's
/// internal order does not matter (an insert followed by a delete of the same
/// row, or the reverse, is no change at all).
struct SinkNetChanges {
    struct Entry {
        /// The row's encoding: `RowCodec.append` of every column.
        var key: [UInt8]
        /// The first row of the chunk holding this value.
        var row: Int
        /// Inserts minus deletes; never 0 in `entries`.
        var net: Int
    }

    /// Entries with a negative net count, then those with a positive one, each
    /// group in order of first appearance.
    let entries: [Entry]

    init(_ chunk: Chunk) {
        var all: [Entry] = []
        var index: [[UInt8]: Int] = [:]
        let columns = Array(chunk.types.indices)
        for row in 0..<chunk.count {
            var key: [UInt8] = []
            RowCodec.append(&key, chunk, row: row, columns: columns)
            let delta = chunk.op(row) == .insert ? 1 : -1
            if let i = index[key] {
                all[i].net += delta
            } else {
                index[key] = all.count
                all.append(Entry(key: key, row: row, net: delta))
            }
        }
        entries = all.filter { $0.net < 0 } + all.filter { $0.net > 0 }
    }
}
