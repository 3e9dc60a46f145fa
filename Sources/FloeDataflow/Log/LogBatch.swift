import CXXHash

/// Rows for one append to a topic: the records of every partition
/// (`PartitionedLog.append(_:_:)` writes one segment per partition that has any).
///
/// `appendRouted(fields:)` places a row in the partition its first field's bytes
/// hash to (`partition(ofKey:partitions:)`), so rows with the same first field
/// always land in the same partition and keep their order there.
public struct LogBatch: Sendable {
    public let partitions: Int
    public let columns: Int
    /// The records of each partition, `partitions` of them.
    public var records: [LogRecords]

    /// Throws `DataflowError.invalidArgument` for a partition count outside 1...9999
    /// or no columns.
    public init(partitions: Int, columns: Int) throws {
        try LogLayout.validate(partitions: partitions)
        guard columns >= 1 else { throw DataflowError.invalidArgument("a log row needs at least one column") }
        self.partitions = partitions
        self.columns = columns
        records = (0..<partitions).map { _ in LogRecords(columns: columns) }
    }

    /// The partition of a row whose first field is `key`: xxh3-64 (seed 0) of the
    /// bytes, modulo the partition count.
    @inlinable public static func partition(ofKey key: UnsafeRawBufferPointer, partitions: Int) -> Int {
        Int(floe_xxh3_64(key.baseAddress, key.count) % UInt64(partitions))
    }

    public static func partition(ofKey key: [UInt8], partitions: Int) -> Int {
        key.withUnsafeBytes { partition(ofKey: $0, partitions: partitions) }
    }

    /// Rows across all partitions.
    public var count: Int { records.reduce(0) { $0 + $1.count } }

    /// Appends a row to `partition`. Throws as `LogRecords.endRecord` (wrong field count).
    public mutating func append(partition: Int, fields: some Sequence<some Collection<UInt8>>) throws {
        guard records.indices.contains(partition) else {
            throw DataflowError.invalidArgument("partition \(partition) of \(partitions)")
        }
        try records[partition].append(fields: fields)
    }

    /// Appends a row to the partition of its first field. Returns that partition.
    /// Throws as `LogRecords.endRecord` (wrong field count).
    @discardableResult
    public mutating func appendRouted(fields: [[UInt8]]) throws -> Int {
        guard let first = fields.first else { throw DataflowError.invalidArgument("a log row needs at least one field") }
        let p = Self.partition(ofKey: first, partitions: partitions)
        try records[p].append(fields: fields)
        return p
    }
}
