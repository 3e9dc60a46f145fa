/// Reads one partition of a `GeneratorSource`: offset o is event
/// `o * partitions + partition`.
struct GeneratorReader: SourceReader {
    let generator: EoGenerator
    let partition: Int
    let partitions: Int
    /// The partition's number of events (`UInt64.max` when unlimited).
    let limit: UInt64
    /// This partition's rate limit in events per second; 0 for none.
    let perSecond: Double
    /// Where the rate is counted from.
    let startOffset: UInt64
    let start: ContinuousClock.Instant
    private(set) var offset: UInt64

    init(generator: EoGenerator, partition: Int, partitions: Int, limit: UInt64, perSecond: Double, offset: UInt64) {
        self.generator = generator
        self.partition = partition
        self.partitions = partitions
        self.limit = limit
        self.perSecond = perSecond
        self.startOffset = offset
        self.start = .now
        self.offset = offset
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
        generator.append(to: &chunk, first: offset * UInt64(partitions) + UInt64(partition), stride: UInt64(partitions), count: Int(n))
        offset += n
        return .rows(Int(n))
    }
}
