/// One Nexmark stream as a pipeline `Source`: the stream's k-th event (k-th
/// person, auction or bid in global event order, `NexmarkEvents.event(k, of:)`)
/// lives in partition `k % partitions` at offset `k / partitions`.
///
/// - `events`: the total number of global events N, so the stream holds its
///   events among `0 ..< N` (`NexmarkEvents.count(of:events:)`: N / 50 persons
///   and so on) and readers return `.end` after the last of their partition;
///   nil for an unlimited stream.
/// - `eventsPerSecond`: a limit on the global Nexmark event rate, 0 for none.
///   This stream emits its share (1/50 persons, 3/50 auctions, 46/50 bids),
///   each partition its part of that, counted from when its reader was made;
///   a reader ahead of the rate returns `.caughtUp`. So the three sources of
///   one rate advance through event time together.
///
/// `endOffsets()` gives the partition sizes of a finite stream, and
/// `UInt64.max` for every partition of an unlimited one.
public struct NexmarkSource: Source {
    public let name: String
    public let stream: NexmarkStreams.Stream
    public let partitions: Int
    public let generator: NexmarkGenerator
    public let events: UInt64?
    public let eventsPerSecond: Double

    public var schema: Schema { stream.schema }

    /// The number of this stream's events (nil when unlimited).
    public var streamEvents: UInt64? { events.map { NexmarkEvents.count(of: stream, events: $0) } }

    /// `name` defaults to the stream's source name (`nexmark_person` and so
    /// on). Throws `DataflowError.invalidArgument` for fewer than 1 partition
    /// or a negative or non-finite rate.
    public init(stream: NexmarkStreams.Stream, generator: NexmarkGenerator, partitions: Int, events: UInt64?,
                eventsPerSecond: Double = 0, name: String? = nil) throws {
        try StridedReader<NexmarkRows>.validate(partitions: partitions, eventsPerSecond: eventsPerSecond)
        self.stream = stream
        self.generator = generator
        self.partitions = partitions
        self.events = events
        self.eventsPerSecond = eventsPerSecond
        self.name = name ?? stream.sourceName
    }

    /// Throws `DataflowError.invalidArgument` for a partition out of range or an
    /// offset past the end of a finite stream.
    public func reader(partition: Int, from offset: UInt64) async throws -> any SourceReader {
        let share = Double(NexmarkEvents.share(stream).count) / Double(NexmarkConfig.totalProportion)
        return try StridedReader(NexmarkRows(generator: generator, stream: stream), name: name, partition: partition,
                                 partitions: partitions, total: streamEvents,
                                 perSecond: eventsPerSecond * share / Double(partitions), offset: offset)
    }

    public func endOffsets() async throws -> [UInt64] {
        StridedReader<NexmarkRows>.endOffsets(total: streamEvents, partitions: partitions)
    }
}
