/// An `EoGenerator` stream as a pipeline `Source`: event i lives in partition
/// `i % partitions` at offset `i / partitions`.
///
/// - `events`: the total number of events (the readers return `.end` after the
///   last one of their partition), or nil for an unlimited stream.
/// - `eventsPerSecond`: a rate limit over all partitions (each partition gets
///   its share, counted from when its reader was made); 0 means as fast as
///   possible. A reader ahead of the rate returns `.caughtUp`.
///
/// `endOffsets()` gives the partition sizes of a finite stream, and `UInt64.max`
/// for every partition of an unlimited one (it never ends).
public struct GeneratorSource: Source {
    public let name: String
    public let partitions: Int
    public let generator: EoGenerator
    public let events: UInt64?
    public let eventsPerSecond: Double

    public var schema: Schema { generator.schema }

    /// `name` defaults to the stream's source name (`eo_orders`, `eo_payments`).
    /// Throws `DataflowError.invalidArgument` for fewer than 1 partition or a
    /// negative or non-finite rate.
    public init(generator: EoGenerator, partitions: Int, events: UInt64?, eventsPerSecond: Double = 0, name: String? = nil) throws {
        try StridedReader<EoGenerator>.validate(partitions: partitions, eventsPerSecond: eventsPerSecond)
        self.generator = generator
        self.partitions = partitions
        self.events = events
        self.eventsPerSecond = eventsPerSecond
        self.name = name ?? generator.stream.sourceName
    }

    /// The number of events of a stream of `events` in `partition` of `partitions`.
    public static func count(events: UInt64, partitions: Int, partition: Int) -> UInt64 {
        StridedReader<EoGenerator>.count(events: events, partitions: partitions, partition: partition)
    }

    /// Throws `DataflowError.invalidArgument` for a partition out of range or an
    /// offset past the end of a finite stream.
    public func reader(partition: Int, from offset: UInt64) async throws -> any SourceReader {
        try StridedReader(generator, name: name, partition: partition, partitions: partitions, total: events,
                          perSecond: eventsPerSecond / Double(partitions), offset: offset)
    }

    public func endOffsets() async throws -> [UInt64] {
        StridedReader<EoGenerator>.endOffsets(total: events, partitions: partitions)
    }
}
