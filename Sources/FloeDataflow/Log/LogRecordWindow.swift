/// Whole, checksum-verified records of one segment that a `LogPartitionReader`
/// holds in memory: `count` records starting at offset `firstOffset`, in
/// `bytes[start..<end]` (each `[u32le length][u64le checksum][payload]`).
///
/// The bytes are shared with the reader, not copied. A window with `count == 0`
/// means the reader is caught up.
struct LogRecordWindow: Sendable {
    var bytes: [UInt8]
    var start: Int
    var end: Int
    var count: Int
    var firstOffset: UInt64
    /// The segment object the records come from.
    var object: String
    /// The object position of `bytes[0]` (add it to an index for a byte offset in the object).
    var objectStart: Int
}
