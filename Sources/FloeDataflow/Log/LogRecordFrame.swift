import CXXHash

/// What a segment holds at one record position (docs/format.md §12.4): the
/// framing and checksum check every reader of a segment shares.
enum LogRecordFrame: Equatable {
    /// A whole record whose payload matches its checksum; it ends at `end`.
    case whole(end: Int)
    /// The record fits in the object but the buffer does not hold all of it yet:
    /// read the object up to `end` (or at least 12 bytes from the record) first.
    case needMore(end: Int)
    /// The record runs past the end of the object (its 12-byte frame, or its payload).
    case cut
    /// A record of the right size whose payload fails its checksum; it ends at `end`.
    case badChecksum(end: Int)

    /// Examines the record at object position `at`. `buffer` holds the object's
    /// bytes from position `bufferStart`; the object is `objectSize` bytes.
    /// Positions in the result are object positions.
    @inline(__always)
    static func examine(_ buffer: UnsafeRawBufferPointer, bufferStart: Int, at: Int, objectSize: Int) -> LogRecordFrame {
        if objectSize - at < 12 { return .cut }
        let i = at - bufferStart
        if buffer.count - i < 12 { return .needMore(end: at + 12) }
        let length = Int(LittleEndian.u32(buffer, i))
        if length > objectSize - at - 12 { return .cut }
        let end = at + 12 + length
        if buffer.count - i - 12 < length { return .needMore(end: end) }
        let sum = floe_xxh3_64(buffer.baseAddress! + i + 12, length)
        return LittleEndian.u64(buffer, i + 4) == UInt64(sum) ? .whole(end: end) : .badChecksum(end: end)
    }
}
