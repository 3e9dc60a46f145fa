/// The kind of a stored version, the first byte of its value in memtables and
/// data blocks (docs/format.md §3.3): a put carries the value after it, a delete
/// (a tombstone) nothing. Any other byte is corruption.
enum ValueKind {
    static let put: UInt8 = 0
    static let delete: UInt8 = 1
}
