/// One write in a memtable. Key and value bytes live in the memtable's arena;
/// the entry is a fixed-size value so the entry array is one contiguous buffer.
struct MemtableEntry {
    var table: UInt32
    var kind: UInt8
    var keyOffset: Int
    var keyLength: Int32
    var valueLength: Int32
    /// First 8 user-key bytes, big-endian and zero-padded: most sort comparisons end here.
    var prefix: UInt64
    /// Hash of `(table, userKey)` for the point-read index.
    var hash: UInt64

    var valueOffset: Int { keyOffset + Int(keyLength) }
}
