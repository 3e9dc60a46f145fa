/// One generated Nexmark event, in the columns of its stream's schema: integer
/// values in place, byte values one after another in a scratch buffer that is
/// reused from event to event (so filling and appending a row allocates nothing
/// once the buffers have grown).
///
/// Invariant after `NexmarkGenerator.generate`: every column of the schema has
/// its value (an integer for int64 and timestamp columns, `bytes[starts[c] ..<
/// ends[c]]` for byte columns).
public struct NexmarkRow: Sendable {
    public let stream: NexmarkStreams.Stream
    let types: [ColumnType]
    /// Integer values by column (unused for byte columns).
    var ints: [Int64]
    /// The byte columns' values, one after another.
    var bytes: [UInt8] = []
    var starts: [Int]
    var ends: [Int]
    /// The end of the last byte value closed.
    private var closed = 0
    /// Digits of an integer being written as CSV.
    private var digits: [UInt8] = []

    public init(stream: NexmarkStreams.Stream) {
        self.stream = stream
        types = stream.schema.types
        ints = [Int64](repeating: 0, count: types.count)
        starts = [Int](repeating: 0, count: types.count)
        ends = [Int](repeating: 0, count: types.count)
        bytes.reserveCapacity(1024)
        digits.reserveCapacity(32)
    }

    /// Empties the byte buffer for the next event.
    @inline(__always)
    mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        closed = 0
    }

    /// The bytes appended since the last close are column `column`'s value.
    @inline(__always)
    mutating func close(_ column: Int) {
        starts[column] = closed
        ends[column] = bytes.count
        closed = bytes.count
    }

    /// The integer value of column `column`.
    public func int(_ column: Int) -> Int64 { ints[column] }

    /// Appends this row to `chunk` (whose types are the stream's schema) as an insert.
    @inline(__always)
    public func append(to chunk: inout Chunk) {
        chunk.appendOp(.insert)
        bytes.withUnsafeBytes { raw in
            for c in types.indices {
                if types[c].isInteger {
                    chunk.appendInt(c, ints[c])
                } else {
                    chunk.appendBytes(c, UnsafeRawBufferPointer(rebasing: raw[starts[c]..<ends[c]]))
                }
            }
        }
    }

    /// Appends this row to `writer` as one CSV row of `ValueText` text forms:
    /// what `CsvWriter.row(fields())` writes.
    public mutating func appendCsv(to writer: inout CsvWriter) {
        for c in types.indices {
            if types[c].isInteger {
                digits.removeAll(keepingCapacity: true)
                switch types[c] {
                case .timestamp: ValueText.appendTimestamp(ints[c], to: &digits)
                case .int64: ValueText.appendDecimal(ints[c], to: &digits)
                default: digits.append(contentsOf: ValueText.format(ints[c], types[c]).utf8)
                }
                writer.field(digits)
            } else {
                writer.field(bytes[starts[c]..<ends[c]])
            }
        }
        writer.endRow()
    }

    /// The row's values as text (`ValueText` forms), in schema order.
    public func fields() -> [String] {
        types.indices.map { c in
            types[c].isInteger ? ValueText.format(ints[c], types[c]) : String(decoding: bytes[starts[c]..<ends[c]], as: UTF8.self)
        }
    }
}
