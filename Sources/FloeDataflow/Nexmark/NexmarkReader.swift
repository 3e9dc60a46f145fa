/// Reads one partition of a `NexmarkSource`: offset o is the stream's event
/// `o * partitions + partition`, global event `NexmarkEvents.event(that, of: stream)`.
/// Appending a row allocates nothing once the chunk's and the scratch row's
/// buffers have grown.
struct NexmarkReader: SourceReader {
    let generator: NexmarkGenerator
    let partition: Int
    let partitions: Int
    /// The partition's number of events (`UInt64.max` when unlimited).
    let limit: UInt64
    /// This partition's rate limit in rows per second; 0 for none.
    let perSecond: Double
    /// Where the rate is counted from.
    let startOffset: UInt64
    let start: ContinuousClock.Instant
    private(set) var offset: UInt64
    /// The scratch row every event is generated into.
    private var row: NexmarkRow

    init(generator: NexmarkGenerator, stream: NexmarkStreams.Stream, partition: Int, partitions: Int, limit: UInt64,
         perSecond: Double, offset: UInt64) {
        self.generator = generator
        self.partition = partition
        self.partitions = partitions
        self.limit = limit
        self.perSecond = perSecond
        self.startOffset = offset
        self.start = .now
        self.offset = offset
        self.row = NexmarkRow(stream: stream)
    }

    mutating func read(into chunk: inout Chunk, max: Int) async throws -> SourceRead {
        guard offset < limit else { return .end }
        var n = min(UInt64(Swift.max(max, 0)), limit - offset)
        if perSecond > 0 {
            let elapsed = (ContinuousClock.now - start).components
            let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18
            let allowed = startOffset + UInt64(min(seconds * perSecond, 1e18))
            guard allowed > offset else { return .caughtUp }
            n = min(n, allowed - offset)
        }
        let stream = row.stream
        var k = offset * UInt64(partitions) + UInt64(partition)
        for _ in 0..<n {
            generator.generate(event: NexmarkEvents.event(k, of: stream), into: &row)
            row.append(to: &chunk)
            k += UInt64(partitions)
        }
        offset += n
        return .rows(Int(n))
    }
}
