/// Which stream each global event number belongs to, and back: the k-th event
/// of a stream (0-based, in global order) and how many of a stream's events are
/// among the first N.
///
/// Event i is in block `i / 50` at position `r = i % 50`: a person when `r < 1`,
/// an auction when `r < 4`, else a bid (the reference's `NexmarkGenerator`
/// proportions 1 : 3 : 46). So person k is event `50 k`, auction k is event
/// `50 (k / 3) + 1 + k % 3` and bid k is event `50 (k / 46) + 4 + k % 46`.
public enum NexmarkEvents {
    /// The stream of event `i`.
    @inline(__always)
    public static func stream(ofEvent i: UInt64) -> NexmarkStreams.Stream {
        let r = i % NexmarkConfig.totalProportion
        if r < NexmarkConfig.personProportion { return .person }
        if r < NexmarkConfig.personProportion + NexmarkConfig.auctionProportion { return .auction }
        return .bid
    }

    /// How many events of one block belong to `stream`, and where in the block they start.
    @inline(__always)
    static func share(_ stream: NexmarkStreams.Stream) -> (count: UInt64, first: UInt64) {
        switch stream {
        case .person: return (NexmarkConfig.personProportion, 0)
        case .auction: return (NexmarkConfig.auctionProportion, NexmarkConfig.personProportion)
        case .bid: return (NexmarkConfig.bidProportion, NexmarkConfig.personProportion + NexmarkConfig.auctionProportion)
        }
    }

    /// The global event number of the `k`-th event of `stream`.
    @inline(__always)
    public static func event(_ k: UInt64, of stream: NexmarkStreams.Stream) -> UInt64 {
        let (n, first) = share(stream)
        return (k / n) * NexmarkConfig.totalProportion + first + k % n
    }

    /// The place of event `i` within its stream: `event(index(ofEvent: i), of: stream(ofEvent: i)) == i`.
    public static func index(ofEvent i: UInt64) -> UInt64 {
        let (n, first) = share(stream(ofEvent: i))
        return (i / NexmarkConfig.totalProportion) * n + i % NexmarkConfig.totalProportion - first
    }

    /// How many of events `0 ..< events` belong to `stream`.
    public static func count(of stream: NexmarkStreams.Stream, events: UInt64) -> UInt64 {
        let (n, first) = share(stream)
        let rest = events % NexmarkConfig.totalProportion
        return (events / NexmarkConfig.totalProportion) * n + min(n, rest > first ? rest - first : 0)
    }
}
