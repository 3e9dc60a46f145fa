/// The three event streams of the Nexmark benchmark (persons, auctions, bids),
/// with the reference field layout of the public Nexmark DDL in snake_case.
/// `NexmarkGenerator` produces them; `floe nexmark generate` writes them as CSV
/// files named after the topics (`person.csv`, `auction.csv`, `bid.csv`, each
/// with a header of these column names) and a CSV of one loads into the topic of
/// the same name.
///
/// Prices and bids are integers (the reference's BIGINT, in cents); times are
/// timestamps with millisecond values (the reference's TIMESTAMP(3)).
public enum NexmarkStreams {
    /// One of the streams.
    public enum Stream: String, Sendable, CaseIterable {
        case person
        case auction
        case bid

        /// The topic and CSV file name stem: `person`, `auction` or `bid`.
        public var topic: String { rawValue }
        /// The name of the generator source: `nexmark_person` and so on.
        public var sourceName: String { "nexmark_" + rawValue }
        public var schema: Schema {
            switch self {
            case .person: return NexmarkStreams.personSchema
            case .auction: return NexmarkStreams.auctionSchema
            case .bid: return NexmarkStreams.bidSchema
            }
        }
        /// The column that times its events.
        public var timeColumn: String { "date_time" }
    }

    /// `id, name, email_address, credit_card, city, state, date_time, extra`.
    public static let personSchema = Schema([
        ColumnDef("id", .int64), ColumnDef("name", .bytes), ColumnDef("email_address", .bytes),
        ColumnDef("credit_card", .bytes), ColumnDef("city", .bytes), ColumnDef("state", .bytes),
        ColumnDef("date_time", .timestamp), ColumnDef("extra", .bytes),
    ])

    /// `id, item_name, description, initial_bid, reserve, date_time, expires, seller, category, extra`.
    public static let auctionSchema = Schema([
        ColumnDef("id", .int64), ColumnDef("item_name", .bytes), ColumnDef("description", .bytes),
        ColumnDef("initial_bid", .int64), ColumnDef("reserve", .int64), ColumnDef("date_time", .timestamp),
        ColumnDef("expires", .timestamp), ColumnDef("seller", .int64), ColumnDef("category", .int64),
        ColumnDef("extra", .bytes),
    ])

    /// `auction, bidder, price, channel, url, date_time, extra`.
    public static let bidSchema = Schema([
        ColumnDef("auction", .int64), ColumnDef("bidder", .int64), ColumnDef("price", .int64),
        ColumnDef("channel", .bytes), ColumnDef("url", .bytes), ColumnDef("date_time", .timestamp),
        ColumnDef("extra", .bytes),
    ])

    /// The schema of the stream whose topic is `topic`, if it is one of them.
    public static func schema(forTopic topic: String) -> Schema? {
        Stream(rawValue: topic)?.schema
    }
}
