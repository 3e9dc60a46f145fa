/// The parameters of `NexmarkGenerator`: the seed and the event clock, plus the
/// reference generator's fixed constants.
///
/// The constants are the defaults of the reference Nexmark generator
/// (nexmark/nexmark `nexmark-flink`: `NexmarkConfiguration`, `GeneratorConfig`,
/// `PersonGenerator`, `AuctionGenerator`, `BidGenerator`, `StringsGenerator`;
/// the same rules as Apache Beam's `sdks/java/testing/nexmark` generator). They
/// are not configurable: a Floe Nexmark stream is the reference's default mix.
///
/// Event time (microseconds, the Floe timestamp unit, with millisecond values as
/// the reference's `TIMESTAMP(3)`): event i is timed
/// `baseTimeMicros + ((i * interEventMicros) / 1000) * 1000`, the reference's
/// `timestampForEvent` (`baseTime + (i * interEventDelayUs) / 1000` in ms). The
/// reference's default rate is `firstEventRate` 10,000 events/s from one
/// generator, an inter-event delay of 100 µs: ten events per millisecond.
public struct NexmarkConfig: Sendable, Hashable {
    /// Seeds every draw (`NexmarkDraws`); two seeds give unrelated streams.
    public var seed: UInt64
    /// Microseconds between consecutive events (the reference's `interEventDelayUs`).
    public var interEventMicros: Int64
    /// The time of event 0 (a whole millisecond).
    public var baseTimeMicros: Int64

    /// The reference's default inter-event delay: 1,000,000 / 10,000 events/s = 100 µs.
    public static let defaultInterEventMicros: Int64 = 100

    public init(seed: UInt64 = 1, interEventMicros: Int64 = NexmarkConfig.defaultInterEventMicros,
                baseTimeMicros: Int64 = EoStreams.baseTimeMicros) {
        self.seed = seed
        self.interEventMicros = interEventMicros
        self.baseTimeMicros = baseTimeMicros
    }

    // MARK: The reference's constants

    /// Events per block: `personProportion : auctionProportion : bidProportion`
    /// = 1 : 3 : 46. Within each block of 50 consecutive event numbers the first
    /// is a person, the next 3 auctions and the last 46 bids.
    public static let personProportion: UInt64 = 1
    public static let auctionProportion: UInt64 = 3
    public static let bidProportion: UInt64 = 46
    public static let totalProportion: UInt64 = personProportion + auctionProportion + bidProportion

    /// Ids start here so that queries find matches on small data sets.
    public static let firstPersonId: Int64 = 1000
    public static let firstAuctionId: Int64 = 1000
    public static let firstCategoryId: Int64 = 10
    /// Categories are `firstCategoryId ..< firstCategoryId + numCategories`.
    public static let numCategories: Int64 = 5

    /// People a seller or bidder is drawn among (the most recent ones).
    public static let numActivePeople: Int64 = 1000
    /// Auctions a bid is drawn among (the most recent ones).
    public static let numInFlightAuctions: Int64 = 100
    /// How many not-yet-created person / auction ids a draw may reach past the
    /// last created one (`PERSON_ID_LEAD`, `AUCTION_ID_LEAD`).
    public static let personIdLead: Int64 = 10
    public static let auctionIdLead: Int64 = 10

    /// A bid is for the hot auction with probability `1 - 1/hotAuctionRatio`
    /// (1/2); an auction's seller is the hot seller with probability
    /// `1 - 1/hotSellersRatio` (3/4); a bid's bidder the hot bidder with
    /// `1 - 1/hotBiddersRatio` (3/4).
    public static let hotAuctionRatio: UInt64 = 2
    public static let hotSellersRatio: UInt64 = 4
    public static let hotBiddersRatio: UInt64 = 4
    /// The hot auction / seller / bidder is the first (the bidder: the second)
    /// of the latest batch of this many ids (`HOT_AUCTION_RATIO`,
    /// `HOT_SELLER_RATIO`, `HOT_BIDDER_RATIO` = 100 in the reference).
    public static let hotBatch: Int64 = 100

    /// A bid comes from one of the hot channels with probability
    /// `1 - 1/hotChannelsRatio` (1/2), else from `channel-N`, N < `numChannels`.
    public static let hotChannelsRatio: UInt64 = 2
    public static let numChannels: UInt64 = 10_000

    /// The average event sizes in bytes the `extra` padding aims at
    /// (`avgPersonByteSize`, `avgAuctionByteSize`, `avgBidByteSize`).
    public static let avgPersonBytes = 200
    public static let avgAuctionBytes = 500
    public static let avgBidBytes = 100
}
