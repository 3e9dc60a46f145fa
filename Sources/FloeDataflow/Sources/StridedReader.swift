/// Rows that are a pure function of their global index (a deterministic
/// generator's events), appended by strides: partition p of n holds the indices
/// p, p + n, p + 2n, ... in order.
protocol StridedRows: Sendable {
    /// Appends the rows of indices `first`, `first + stride`, ... (`count` of them)
    /// to `chunk`, whose columns are the rows' schema.
    mutating func append(to chunk: inout Chunk, first: UInt64, stride: UInt64, count: Int)
}

extension EoGenerator: StridedRows {}

/// Reads one partition of a generator source (`GeneratorSource`, `NexmarkSource`):
/// offset o is row index `o * partitions + partition`, up to `limit`, at most
/// `perSecond` rows per second counted from when the reader was made.
struct StridedReader<Rows: StridedRows>: SourceReader {
    private var rows: Rows
    let partition: Int
    let partitions: Int
    /// The partition's number of rows (`UInt64.max` when unlimited).
    let limit: UInt64
    /// This partition's rate limit in rows per second; 0 for none.
    let perSecond: Double
    /// Where the rate is counted from.
    let startOffset: UInt64
    let start: ContinuousClock.Instant
    private(set) var offset: UInt64

    /// A reader of `partition` of a source `name` of `partitions` partitions over
    /// `total` rows (nil: unlimited), from `offset`. Throws
    /// `DataflowError.invalidArgument` for a partition out of range or an offset past
    /// the end of a finite source.
    init(_ rows: Rows, name: String, partition: Int, partitions: Int, total: UInt64?, perSecond: Double, offset: UInt64) throws {
        guard (0..<partitions).contains(partition) else {
            throw DataflowError.invalidArgument("generator \(name) has partitions 0...\(partitions - 1), not \(partition)")
        }
        let limit = total.map { Self.count(events: $0, partitions: partitions, partition: partition) } ?? .max
        guard offset <= limit else {
            throw DataflowError.invalidArgument("offset \(offset) is past the end (\(limit)) of generator \(name) partition \(partition)")
        }
        self.rows = rows
        self.partition = partition
        self.partitions = partitions
        self.limit = limit
        self.perSecond = perSecond
        self.startOffset = offset
        self.start = .now
        self.offset = offset
    }

    /// The number of rows of a source of `events` in `partition` of `partitions`.
    static func count(events: UInt64, partitions: Int, partition: Int) -> UInt64 {
        let p = UInt64(partition), n = UInt64(partitions)
        return events > p ? (events - p + n - 1) / n : 0
    }

    /// Every partition's end offset of a source of `total` rows (`UInt64.max` each when unlimited).
    static func endOffsets(total: UInt64?, partitions: Int) -> [UInt64] {
        (0..<partitions).map { p in total.map { count(events: $0, partitions: partitions, partition: p) } ?? .max }
    }

    /// Throws `DataflowError.invalidArgument` for fewer than 1 partition or a
    /// negative or non-finite rate: a generator source's arguments.
    static func validate(partitions: Int, eventsPerSecond: Double) throws {
        guard partitions >= 1 else { throw DataflowError.invalidArgument("a generator needs at least 1 partition, not \(partitions)") }
        guard eventsPerSecond >= 0, eventsPerSecond.isFinite else {
            throw DataflowError.invalidArgument("events per second must be 0 (no limit) or positive, not \(eventsPerSecond)")
        }
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
        rows.append(to: &chunk, first: offset * UInt64(partitions) + UInt64(partition), stride: UInt64(partitions), count: Int(n))
        offset += n
        return .rows(Int(n))
    }
}
