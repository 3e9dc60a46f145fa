import Floe

/// A topic of a `PartitionedLog` as a pipeline `Source` with a typed schema.
///
/// Schema columns are matched to the topic's columns by name (the topic may have
/// more; the order may differ). Each read parses the raw field bytes with
/// `ValueText` for integer-like columns and copies them for string columns.
///
/// Errors: a missing topic is `DataflowError.unknown(kind: "topic", ...)`; a
/// schema column the topic lacks is `unknownColumn("<topic>.<column>", available:
/// <topic's columns>)`; a field that does not parse is `malformedValue` at
/// `"topic T partition P offset O"`; a damaged segment is `damagedLog`. A read
/// returns the rows before a bad one; the reader stays at it and the next read
/// throws, appending nothing.
public struct LogSource: Source {
    public let name: String
    public let schema: Schema
    public let partitions: Int
    public let log: PartitionedLog
    public let topic: LogTopic
    /// For each schema column, the topic column it reads.
    let topicColumnOfSchemaColumn: [Int]

    /// Opens `topic` of `log` as a source of rows of `schema`. `name` (the name
    /// recorded with the offsets) defaults to `log:<topic>`.
    public init(log: PartitionedLog, topic: String, schema: Schema, name: String? = nil) async throws {
        let t = try await log.topic(topic)
        let map = try schema.columns.map { column in
            guard let i = t.columns.firstIndex(of: column.name) else {
                throw DataflowError.unknownColumn("\(topic).\(column.name)", available: t.columns)
            }
            return i
        }
        self.log = log
        self.topic = t
        self.schema = schema
        self.partitions = t.partitions
        self.name = name ?? "log:\(topic)"
        topicColumnOfSchemaColumn = map
    }

    public func reader(partition: Int, from offset: UInt64) async throws -> any SourceReader {
        LogSourceReader(log: try await log.reader(topic.name, partition: partition, from: offset), source: self)
    }

    public func endOffsets() async throws -> [UInt64] {
        var ends: [UInt64] = []
        for p in 0..<partitions { ends.append(try await log.endOffset(topic, partition: p)) }
        return ends
    }
}
