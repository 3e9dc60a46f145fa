import CXXHash

/// The records of one partition for one append, already encoded as a segment
/// holds them after its header (docs/format.md §12.4): per record
/// `[u32le payload length][u64le xxh3 of payload][payload]`, the payload being
/// every field as `[u32le length][bytes]`.
///
/// Build a record with `beginRecord`, one `appendField` per column, `endRecord`;
/// or with `append(fields:)`. Fields are raw bytes (any bytes, zero bytes
/// included); typing happens when a `LogSource` reads them.
///
/// Invariants: every finished record has exactly `columns` fields; a record that
/// is begun but not ended is not counted and is dropped by the next
/// `beginRecord` or by a failed `endRecord`.
public struct LogRecords: Sendable {
    public let columns: Int
    /// The encoded records (no segment header).
    private(set) var bytes: [UInt8] = []
    /// The number of finished records.
    public private(set) var count = 0
    /// Where the last finished record starts in `bytes`.
    private(set) var lastRecordStart = 0
    /// Where the open record starts in `bytes`, or -1.
    private var open = -1
    private var fieldsInOpen = 0

    public init(columns: Int) {
        self.columns = columns
    }

    /// The encoded size of the finished records.
    public var byteCount: Int { open >= 0 ? open : bytes.count }

    /// Starts a record (dropping one begun and not ended).
    public mutating func beginRecord() {
        if open >= 0 { bytes.removeSubrange(open...) }
        open = bytes.count
        fieldsInOpen = 0
        bytes.append(contentsOf: repeatElement(0, count: 12))
    }

    /// Appends a field to the open record.
    /// Throws `DataflowError.invalidArgument` for a field of 4 GiB or more (the
    /// open record is dropped).
    public mutating func appendField(_ field: UnsafeRawBufferPointer) throws {
        try appendBytes(field)
    }

    /// Appends a field to the open record; as the raw-buffer form.
    public mutating func appendField(_ field: some Collection<UInt8>) throws {
        try appendBytes(field)
    }

    private mutating func appendBytes(_ field: some Collection<UInt8>) throws {
        guard open >= 0 else { throw DataflowError.invalidArgument("appendField outside a record") }
        guard field.count <= Int(UInt32.max) else {
            drop()
            throw DataflowError.invalidArgument("a log field holds at most \(UInt32.max) bytes, not \(field.count)")
        }
        LittleEndian.append(&bytes, UInt32(field.count))
        bytes.append(contentsOf: field)
        fieldsInOpen += 1
    }

    /// Finishes the open record: writes its length and checksum.
    /// Throws `DataflowError.invalidArgument` (and drops the record) when it does
    /// not have exactly `columns` fields or its payload is 4 GiB or more.
    public mutating func endRecord() throws {
        guard open >= 0 else { throw DataflowError.invalidArgument("endRecord outside a record") }
        let start = open
        guard fieldsInOpen == columns else {
            let n = fieldsInOpen
            drop()
            throw DataflowError.invalidArgument("a record of \(n) fields for a topic of \(columns) columns")
        }
        let payload = bytes.count - start - 12
        guard payload <= Int(UInt32.max) else {
            drop()
            throw DataflowError.invalidArgument("a log record holds at most \(UInt32.max) bytes, not \(payload)")
        }
        let sum = bytes.withUnsafeBytes { floe_xxh3_64($0.baseAddress! + start + 12, payload) }
        LittleEndian.store(&bytes, UInt32(payload), at: start)
        LittleEndian.store(&bytes, UInt64(sum), at: start + 4)
        lastRecordStart = start
        count += 1
        open = -1
    }

    /// Appends one whole record. Throws as `endRecord`.
    public mutating func append(fields: some Sequence<some Collection<UInt8>>) throws {
        beginRecord()
        for f in fields { try appendField(f) }
        try endRecord()
    }

    /// Drops every record, keeping the capacity.
    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        count = 0
        lastRecordStart = 0
        open = -1
    }

    private mutating func drop() {
        if open >= 0 { bytes.removeSubrange(open...) }
        open = -1
    }

    /// The whole segment object for these records starting at `firstOffset`:
    /// header, then the finished records. Nil when there are none.
    func segment(firstOffset: UInt64) -> [UInt8]? {
        guard count > 0 else { return nil }
        let body = byteCount
        var out: [UInt8] = []
        out.reserveCapacity(LogSegmentHeader.size + body)
        LogSegmentHeader(firstOffset: firstOffset, recordCount: UInt64(count), objectSize: LogSegmentHeader.size + body,
                         lastRecordStart: LogSegmentHeader.size + lastRecordStart).encode(into: &out)
        out.append(contentsOf: bytes[0..<body])
        return out
    }
}
