#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Generates the Nexmark streams (`NexmarkStreams`) by the rules of the reference
/// Nexmark generator (nexmark/nexmark `nexmark-flink` `PersonGenerator`,
/// `AuctionGenerator`, `BidGenerator`, `PriceGenerator`, `StringsGenerator`,
/// `GeneratorConfig`; Apache Beam `sdks/java/testing/nexmark`), with the
/// reference's default parameters (`NexmarkConfig`).
///
/// Event i (the global event number, 0-based) is a pure function of (seed, i):
/// its stream is `NexmarkEvents.stream(ofEvent: i)`, its time
/// `timeMicros(ofEvent: i)`, and every random choice is a draw of
/// `NexmarkDraws(seed:event: i)`. So any event can be made on its own, in any
/// order, by any process; the reference's generator is not (it threads one
/// `java.util.Random` through the events). The rules, with `P(i)` the last
/// person id created by event i (base 0: `i / 50`) and `A(i)` the last auction
/// id (base 0: `3 (i / 50) + (i % 50) - 1` for an auction, `3 (i / 50) + 2` for
/// a bid, `3 (i / 50) - 1` for a person):
///
/// - person: `id = 1000 + P(i)` (consecutive from 1000 in event order); name
///   `First Last` from the reference's 11 first and 9 last names; email
///   `s7@s5.com`; credit card four space-separated 4-digit groups; city one of
///   10 and state one of 6 US ones (drawn apart, as the reference does).
/// - auction: `id = 1000 + A(i)` (consecutive from 1000); seller `1000 +
///   (P(i) / 100) * 100` (the hot seller) with probability 3/4, else a person
///   drawn among the last `min(P(i) + 1, 1000)` people plus 10 ids ahead of the
///   last; category `10 + u(5)`; `initial_bid` a price; `reserve = initial_bid
///   + price`; `expires = date_time + (1 + u(max(2 h, 1))) ms` where `h` is the
///   time in ms from event i to event `i + 1666` (100 in-flight auctions ahead
///   at 3 auctions per 50 events); item name `s20`, description `s100`.
/// - bid: auction `1000 + (A(i) / 100) * 100` (the hot auction) with
///   probability 1/2, else drawn among auctions `max(A(i) - 100, 0) ... A(i) +
///   10`; bidder `1000 + (P(i) / 100) * 100 + 1` (the hot bidder) with
///   probability 3/4, else drawn as the seller is; price a price; channel one
///   of `Google`, `Facebook`, `Baidu`, `Apple` with its URL with probability
///   1/2, else `channel-N` (N < 10,000) with channel N's URL.
///
/// `u(n)` is a uniform draw in `0 ..< n`. A price is `round(10^(6 x) * 100)`
/// cents for a uniform `x` in [0, 1): 100 ... 100,000,000. A string `sN` is `3
/// + u(N - 3)` characters, lowercase letters with about one in 13 a space,
/// trimmed. A URL is `https://www.nexmark.com/a/b/c/item.htm?query=1` with
/// three 3-4 character segments (letters, `_` for about one in 13); channel
/// N's URL and each hot channel's are a function of (seed, N) and, for 9 in 10
/// channels, end with `&channel_id=` and the magnitude of N's 32 bits reversed
/// as a signed integer. `extra` is letters, so that the event's size (8 bytes
/// per number plus the text lengths, as the reference counts it) is on average
/// 200 (person), 500 (auction) or 100 (bid) bytes: the shortfall `d`, give or
/// take `round(d / 5)`.
///
/// Departures from the reference, all where it is not a function of its seed:
/// random strings are windows of two fixed 8 KiB texts (`NexmarkVocabulary`)
/// at drawn offsets, not fresh characters; the hot channels' and channel N's
/// URLs are drawn from the seed and N instead of once per process; the bidder
/// id gets 1000 added once (as Beam; nexmark-flink adds it twice); the channel
/// id of channel 1 is 2147483648 (Java's `Math.abs` overflows there). Prices
/// use the platform `pow`, so a platform whose `pow` differs in the last bit
/// may round a price that lands on half a cent the other way.
public struct NexmarkGenerator: Sendable {
    public let config: NexmarkConfig

    public init(config: NexmarkConfig = NexmarkConfig()) {
        self.config = config
    }

    public init(seed: UInt64) {
        self.init(config: NexmarkConfig(seed: seed))
    }

    // MARK: Time

    /// The time of event `i` in milliseconds: `base + (i * interEventMicros) / 1000`.
    @inline(__always)
    public func timeMillis(ofEvent i: UInt64) -> Int64 {
        config.baseTimeMicros / 1000 + Int64(i) * config.interEventMicros / 1000
    }

    /// The time of event `i` in microseconds (a whole millisecond).
    @inline(__always)
    public func timeMicros(ofEvent i: UInt64) -> Int64 {
        timeMillis(ofEvent: i) * 1000
    }

    // MARK: Ids (base 0; add firstPersonId / firstAuctionId)

    /// The last person created by event `i` (its own id when `i` is a person):
    /// the reference's `lastBase0PersonId`.
    @inline(__always)
    public static func lastPerson(atEvent i: UInt64) -> Int64 {
        let epoch = Int64(i / NexmarkConfig.totalProportion), offset = i % NexmarkConfig.totalProportion
        return epoch * Int64(NexmarkConfig.personProportion) + Int64(min(offset, NexmarkConfig.personProportion - 1))
    }

    /// The last auction created by event `i` (its own id when `i` is an
    /// auction; -1 before the first): the reference's `lastBase0AuctionId`.
    @inline(__always)
    public static func lastAuction(atEvent i: UInt64) -> Int64 {
        let p = Int64(NexmarkConfig.personProportion), a = Int64(NexmarkConfig.auctionProportion)
        var epoch = Int64(i / NexmarkConfig.totalProportion), offset = Int64(i % NexmarkConfig.totalProportion)
        if offset < p {
            epoch -= 1
            offset = a - 1
        } else if offset >= p + a {
            offset = a - 1
        } else {
            offset -= p
        }
        return epoch * a + offset
    }

    /// A person among the active ones at event `i`, or up to `personIdLead`
    /// ahead of the last: the reference's `nextBase0PersonId`.
    @inline(__always)
    static func nextPerson(atEvent i: UInt64, _ d: inout NexmarkDraws) -> Int64 {
        let people = lastPerson(atEvent: i) + 1
        let active = min(people, NexmarkConfig.numActivePeople)
        return people - active + d.below(active + NexmarkConfig.personIdLead)
    }

    /// An auction among the in-flight ones at event `i`, or up to
    /// `auctionIdLead` ahead of the last: the reference's `nextBase0AuctionId`.
    @inline(__always)
    static func nextAuction(atEvent i: UInt64, _ d: inout NexmarkDraws) -> Int64 {
        let last = lastAuction(atEvent: i)
        let first = max(last - NexmarkConfig.numInFlightAuctions, 0)
        return first + d.below(last - first + 1 + NexmarkConfig.auctionIdLead)
    }

    // MARK: Values

    /// The reference's `nextPrice`: `round(10^(6 x) * 100)` cents, x uniform in [0, 1).
    @inline(__always)
    static func price(_ d: inout NexmarkDraws) -> Int64 {
        Int64((pow(10.0, d.unit() * 6.0) * 100.0).rounded())
    }

    /// Events from one auction to the auction `numInFlightAuctions` later:
    /// `100 * 50 / 3` = 1666.
    public static let eventsPerInFlightAuctions =
        UInt64(NexmarkConfig.numInFlightAuctions) * NexmarkConfig.totalProportion / NexmarkConfig.auctionProportion

    /// The reference's `nextAuctionLengthMs`: `1 + u(max(2 h, 1))` ms, `h` the
    /// milliseconds from event `i` to event `i + 1666`.
    @inline(__always)
    func auctionLengthMillis(atEvent i: UInt64, _ d: inout NexmarkDraws) -> Int64 {
        let horizon = timeMillis(ofEvent: i + Self.eventsPerInFlightAuctions) - timeMillis(ofEvent: i)
        return 1 + d.below(max(2 * horizon, 1))
    }

    /// The reference's `nextString(maxLength)`: a window of `3 + u(maxLength -
    /// 3)` characters of the spaced text, trimmed of spaces.
    @inline(__always)
    static func appendString(maxLength: Int, _ d: inout NexmarkDraws, to out: inout [UInt8]) {
        let length = 3 + Int(d.below(UInt64(maxLength - 3)))
        var lo = Int(d.below(UInt64(NexmarkVocabulary.textLength - length + 1)))
        var hi = lo + length
        NexmarkVocabulary.spacedText.withUnsafeBufferPointer { text in
            while lo < hi && text[lo] == 0x20 { lo += 1 }
            while hi > lo && text[hi - 1] == 0x20 { hi -= 1 }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: text[lo..<hi]))
        }
    }

    /// A URL path segment: the reference's `nextString(5, '_')`, 3 or 4
    /// characters with `_` for a space.
    @inline(__always)
    static func appendSegment(_ d: inout NexmarkDraws, to out: inout [UInt8]) {
        let length = 3 + Int(d.below(2 as UInt64))
        let at = Int(d.below(UInt64(NexmarkVocabulary.textLength - length + 1)))
        NexmarkVocabulary.spacedText.withUnsafeBufferPointer { text in
            for k in at..<(at + length) { out.append(text[k] == 0x20 ? 0x5F : text[k]) }
        }
    }

    /// The reference's `nextExtra`: letters making `currentSize` up to
    /// `average` give or take a fifth of the shortfall; nothing when already past.
    @inline(__always)
    static func appendExtra(currentSize: Int, average: Int, _ d: inout NexmarkDraws, to out: inout [UInt8]) {
        guard currentSize <= average else { return }
        let shortfall = average - currentSize
        let delta = (shortfall + 2) / 5  // Java's Math.round(shortfall * 0.2): no ties, a fifth is never .5
        let size = shortfall - delta + (delta == 0 ? 0 : Int(d.below(UInt64(2 * delta))))
        let at = Int(d.below(UInt64(NexmarkVocabulary.textLength - size + 1)))
        NexmarkVocabulary.letters.withUnsafeBufferPointer { text in
            out.append(contentsOf: UnsafeBufferPointer(rebasing: text[at..<(at + size)]))
        }
    }

    private static let urlHead: [UInt8] = Array("https://www.nexmark.com/".utf8)
    private static let urlTail: [UInt8] = Array("/item.htm?query=1".utf8)
    private static let channelIdKey: [UInt8] = Array("&channel_id=".utf8)
    private static let channelPrefix: [UInt8] = Array("channel-".utf8)
    private static let dotCom: [UInt8] = Array(".com".utf8)
    /// Added to the seed for the hot channels' and the numbered channels' URLs.
    static let hotUrlSalt: UInt64 = 0x4A7C_15F3_9CC0_605D
    static let channelUrlSalt: UInt64 = 0x2545_F491_4F6C_DD1D

    /// The reference's `getBaseUrl`, drawn from `d`.
    @inline(__always)
    static func appendBaseUrl(_ d: inout NexmarkDraws, to out: inout [UInt8]) {
        out.append(contentsOf: urlHead)
        appendSegment(&d, to: &out)
        out.append(0x2F)
        appendSegment(&d, to: &out)
        out.append(0x2F)
        appendSegment(&d, to: &out)
        out.append(contentsOf: urlTail)
    }

    /// The URL of channel `n` under this seed: a base URL and, for 9 channels
    /// in 10, `&channel_id=` and the magnitude of n's 32 bits reversed as an `Int32`.
    @inline(__always)
    func appendChannelUrl(_ n: UInt64, to out: inout [UInt8]) {
        var d = NexmarkDraws(seed: config.seed &+ Self.channelUrlSalt, event: n)
        Self.appendBaseUrl(&d, to: &out)
        if d.below(10 as UInt64) > 0 {
            out.append(contentsOf: Self.channelIdKey)
            let reversed = Int64(Int32(bitPattern: Self.reversed(UInt32(truncatingIfNeeded: n))))
            ValueText.appendDecimal(Int64(reversed.magnitude), to: &out)
        }
    }

    /// The bits of `x` in reverse order (Java's `Integer.reverse`).
    static func reversed(_ x: UInt32) -> UInt32 {
        var v = x
        v = ((v >> 1) & 0x5555_5555) | ((v & 0x5555_5555) << 1)
        v = ((v >> 2) & 0x3333_3333) | ((v & 0x3333_3333) << 2)
        v = ((v >> 4) & 0x0F0F_0F0F) | ((v & 0x0F0F_0F0F) << 4)
        return v.byteSwapped
    }

    // MARK: Events

    /// Fills `row` with event `i`. `row.stream` must be the stream of event i
    /// (`NexmarkEvents.stream(ofEvent:)`); a mismatch is a programming error (trap).
    @inline(__always)
    public func generate(event i: UInt64, into row: inout NexmarkRow) {
        precondition(row.stream == NexmarkEvents.stream(ofEvent: i), "event \(i) is not a \(row.stream) event")
        var d = NexmarkDraws(seed: config.seed, event: i)
        row.reset()
        switch row.stream {
        case .person: person(i, &d, &row)
        case .auction: auction(i, &d, &row)
        case .bid: bid(i, &d, &row)
        }
    }

    /// Event `i`'s values as text (`ValueText` forms), in its schema's order.
    public func fields(ofEvent i: UInt64) -> [String] {
        var row = NexmarkRow(stream: NexmarkEvents.stream(ofEvent: i))
        generate(event: i, into: &row)
        return row.fields()
    }

    /// `id, name, email_address, credit_card, city, state, date_time, extra`.
    private func person(_ i: UInt64, _ d: inout NexmarkDraws, _ row: inout NexmarkRow) {
        row.ints[0] = NexmarkConfig.firstPersonId + Self.lastPerson(atEvent: i)
        NexmarkVocabulary.firstNames.append(Int(d.below(UInt64(NexmarkVocabulary.firstNames.count))), to: &row.bytes)
        row.bytes.append(0x20)
        NexmarkVocabulary.lastNames.append(Int(d.below(UInt64(NexmarkVocabulary.lastNames.count))), to: &row.bytes)
        row.close(1)
        Self.appendString(maxLength: 7, &d, to: &row.bytes)
        row.bytes.append(0x40)
        Self.appendString(maxLength: 5, &d, to: &row.bytes)
        row.bytes.append(contentsOf: Self.dotCom)
        row.close(2)
        for group in 0..<4 {
            if group > 0 { row.bytes.append(0x20) }
            ValueText.appendDigits(d.below(10_000 as Int64), 4, to: &row.bytes)
        }
        row.close(3)
        NexmarkVocabulary.usCities.append(Int(d.below(UInt64(NexmarkVocabulary.usCities.count))), to: &row.bytes)
        row.close(4)
        NexmarkVocabulary.usStates.append(Int(d.below(UInt64(NexmarkVocabulary.usStates.count))), to: &row.bytes)
        row.close(5)
        row.ints[6] = timeMicros(ofEvent: i)
        Self.appendExtra(currentSize: 8 + row.bytes.count, average: NexmarkConfig.avgPersonBytes, &d, to: &row.bytes)
        row.close(7)
    }

    /// `id, item_name, description, initial_bid, reserve, date_time, expires, seller, category, extra`.
    private func auction(_ i: UInt64, _ d: inout NexmarkDraws, _ row: inout NexmarkRow) {
        row.ints[0] = NexmarkConfig.firstAuctionId + Self.lastAuction(atEvent: i)
        let seller = d.below(NexmarkConfig.hotSellersRatio) > 0
            ? (Self.lastPerson(atEvent: i) / NexmarkConfig.hotBatch) * NexmarkConfig.hotBatch
            : Self.nextPerson(atEvent: i, &d)
        row.ints[7] = NexmarkConfig.firstPersonId + seller
        row.ints[8] = NexmarkConfig.firstCategoryId + d.below(NexmarkConfig.numCategories)
        let initialBid = Self.price(&d)
        row.ints[3] = initialBid
        let time = timeMicros(ofEvent: i)
        row.ints[5] = time
        row.ints[6] = time + auctionLengthMillis(atEvent: i, &d) * 1000
        Self.appendString(maxLength: 20, &d, to: &row.bytes)
        row.close(1)
        Self.appendString(maxLength: 100, &d, to: &row.bytes)
        row.close(2)
        row.ints[4] = initialBid + Self.price(&d)
        // As the reference counts: 8 bytes for the id and 8 for each of five more numbers.
        Self.appendExtra(currentSize: 8 + row.bytes.count + 40, average: NexmarkConfig.avgAuctionBytes, &d, to: &row.bytes)
        row.close(9)
    }

    /// `auction, bidder, price, channel, url, date_time, extra`.
    private func bid(_ i: UInt64, _ d: inout NexmarkDraws, _ row: inout NexmarkRow) {
        let auction = d.below(NexmarkConfig.hotAuctionRatio) > 0
            ? (Self.lastAuction(atEvent: i) / NexmarkConfig.hotBatch) * NexmarkConfig.hotBatch
            : Self.nextAuction(atEvent: i, &d)
        row.ints[0] = NexmarkConfig.firstAuctionId + auction
        let bidder = d.below(NexmarkConfig.hotBiddersRatio) > 0
            ? (Self.lastPerson(atEvent: i) / NexmarkConfig.hotBatch) * NexmarkConfig.hotBatch + 1
            : Self.nextPerson(atEvent: i, &d)
        row.ints[1] = NexmarkConfig.firstPersonId + bidder
        row.ints[2] = Self.price(&d)
        if d.below(NexmarkConfig.hotChannelsRatio) > 0 {
            let hot = d.below(UInt64(NexmarkVocabulary.hotChannels.count))
            NexmarkVocabulary.hotChannels.append(Int(hot), to: &row.bytes)
            row.close(3)
            var u = NexmarkDraws(seed: config.seed &+ Self.hotUrlSalt, event: hot)
            Self.appendBaseUrl(&u, to: &row.bytes)
            row.close(4)
        } else {
            let n = d.below(NexmarkConfig.numChannels)
            row.bytes.append(contentsOf: Self.channelPrefix)
            ValueText.appendDecimal(Int64(n), to: &row.bytes)
            row.close(3)
            appendChannelUrl(n, to: &row.bytes)
            row.close(4)
        }
        row.ints[5] = timeMicros(ofEvent: i)
        // The reference counts the four numbers (auction, bidder, price, time), not the channel and URL.
        Self.appendExtra(currentSize: 32, average: NexmarkConfig.avgBidBytes, &d, to: &row.bytes)
        row.close(6)
    }
}
