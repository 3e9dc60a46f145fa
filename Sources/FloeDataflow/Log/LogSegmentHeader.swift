import CXXHash

/// The fixed 48-byte header at the start of every log segment (docs/format.md §12.3).
///
/// It states what the writer wrote: the offset of the first record, how many
/// records follow, the whole object's size and where the last record starts. A
/// reader compares the object it got with these to tell a torn tail (the object
/// is shorter than `objectSize`, or its last record fails its checksum) from
/// damage; an appender checks only the header and the last record to find the
/// partition's end.
///
/// Invariants of a decoded header: `recordCount >= 1`, and
/// `headerSize <= lastRecordStart`, `lastRecordStart + 12 <= objectSize`.
struct LogSegmentHeader: Sendable, Equatable {
    var firstOffset: UInt64
    var recordCount: UInt64
    var objectSize: Int
    var lastRecordStart: Int

    static let size = 48
    /// `"FLSG"` read as a little-endian u32.
    static let magic: UInt32 = 0x4753_4C46
    static let formatVersion: UInt16 = 1

    init(firstOffset: UInt64, recordCount: UInt64, objectSize: Int, lastRecordStart: Int) {
        self.firstOffset = firstOffset
        self.recordCount = recordCount
        self.objectSize = objectSize
        self.lastRecordStart = lastRecordStart
    }

    /// Appends the 48 header bytes to `out`.
    func encode(into out: inout [UInt8]) {
        let start = out.count
        LittleEndian.append(&out, Self.magic)
        LittleEndian.append(&out, Self.formatVersion)
        LittleEndian.append(&out, UInt16(0))
        LittleEndian.append(&out, firstOffset)
        LittleEndian.append(&out, recordCount)
        LittleEndian.append(&out, UInt64(objectSize))
        LittleEndian.append(&out, UInt64(lastRecordStart))
        let sum = out.withUnsafeBytes { floe_xxh3_64($0.baseAddress! + start, 40) }
        LittleEndian.append(&out, UInt64(sum))
    }

    /// Decodes the header from the first bytes of segment `object`, whose name
    /// says it starts at `expectedFirstOffset`. `bytes` must hold at least `size` bytes.
    /// Throws `DataflowError.damagedLog` naming the object and the bad field's offset.
    init(decoding bytes: UnsafeRawBufferPointer, object: String, expectedFirstOffset: UInt64) throws {
        func damaged(_ at: Int, _ reason: String) -> DataflowError { .damagedLog(object: object, offset: at, reason: reason) }
        precondition(bytes.count >= Self.size, "caller reads the whole header")
        guard LittleEndian.u64(bytes, 40) == UInt64(floe_xxh3_64(bytes.baseAddress, 40)) else {
            throw damaged(40, "segment header checksum mismatch")
        }
        guard LittleEndian.u32(bytes, 0) == Self.magic else { throw damaged(0, "not a log segment (bad magic)") }
        let version = LittleEndian.u16(bytes, 4)
        guard version == Self.formatVersion else {
            throw damaged(4, "format version \(version) is not supported (this reader reads \(Self.formatVersion))")
        }
        firstOffset = LittleEndian.u64(bytes, 8)
        recordCount = LittleEndian.u64(bytes, 16)
        let objectSize = LittleEndian.u64(bytes, 24)
        let lastStart = LittleEndian.u64(bytes, 32)
        guard firstOffset == expectedFirstOffset else {
            throw damaged(8, "the header says first offset \(firstOffset) but the object's name says \(expectedFirstOffset)")
        }
        // Ordered so that no subtraction can wrap.
        guard recordCount >= 1, objectSize <= UInt64(Int.max), objectSize >= UInt64(Self.size) + 12,
              lastStart >= UInt64(Self.size), lastStart <= objectSize - 12,
              recordCount <= (objectSize - UInt64(Self.size)) / 12 else {
            throw damaged(16, "inconsistent header: \(recordCount) records, object size \(objectSize), last record at \(lastStart)")
        }
        self.objectSize = Int(objectSize)
        self.lastRecordStart = Int(lastStart)
    }
}
