import Floe

/// A source that adds to every row of another source a hidden key: its source
/// position, `partition << 40 | offset`, as the int64 column `column` after the
/// source's own columns.
///
/// Bag semantics use it: a stream of rows with no key (bids) may hold equal rows,
/// and a view or a join state keyed by all columns would merge them. The position
/// is unique per row and the same on every replay (a source is replayable), so it
/// identifies a row across restarts and parallelisms.
///
/// Invariants: offsets stay below 2^40 and partitions below 2^23 (`reader`
/// throws `invalidArgument` otherwise). Name, partitions and end offsets are the
/// wrapped source's, so a pipeline's committed positions are the same with or
/// without the key.
public struct PositionKeyedSource: Source {
    public static let offsetBits: UInt64 = 40
    public let inner: any Source
    public let column: String
    public let schema: Schema
    public var name: String { inner.name }
    public var partitions: Int { inner.partitions }

    /// Throws `invalidArgument` when the source already has a column `column`.
    public init(_ inner: any Source, column: String) throws {
        guard !inner.schema.names.contains(column) else {
            throw DataflowError.invalidArgument("source \(inner.name) already has a column \(column)")
        }
        self.inner = inner
        self.column = column
        schema = Schema(inner.schema.columns + [ColumnDef(column, .int64)])
    }

    /// The key of the row at `offset` of `partition`.
    @inlinable public static func key(partition: Int, offset: UInt64) -> Int64 {
        Int64(bitPattern: UInt64(partition) << offsetBits | offset)
    }

    public func reader(partition: Int, from offset: UInt64) async throws -> any SourceReader {
        guard partition < 1 << 23 else { throw DataflowError.invalidArgument("source \(name): partition \(partition) is too large for a position key") }
        return Reader(inner: try await inner.reader(partition: partition, from: offset), partition: partition, column: inner.schema.count,
                      source: inner.name)
    }

    public func endOffsets() async throws -> [UInt64] { try await inner.endOffsets() }

    /// Reads the wrapped reader into the leading columns of the chunk, then fills
    /// the key column of the rows it appended (no allocation per row).
    struct Reader: SourceReader {
        var inner: any SourceReader
        let partition: Int
        let column: Int
        let source: String
        var offset: UInt64 { inner.offset }

        mutating func read(into chunk: inout Chunk, max: Int) async throws -> SourceRead {
            let first = inner.offset
            let result = try await inner.read(into: &chunk, max: max)
            if case let .rows(n) = result {
                guard first + UInt64(n) < 1 << PositionKeyedSource.offsetBits else {
                    throw DataflowError.invalidArgument("source \(source) partition \(partition): offset \(first + UInt64(n)) is too large for a position key")
                }
                let base = UInt64(partition) << PositionKeyedSource.offsetBits | first
                for i in 0..<UInt64(n) { chunk.appendInt(column, Int64(bitPattern: base + i)) }
            }
            return result
        }
    }
}
