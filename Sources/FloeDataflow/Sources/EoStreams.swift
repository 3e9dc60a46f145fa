/// The two event streams of the examples and demos: orders, and payments for
/// them. `EoGenerator` produces them; a CSV of either loads into the topic of
/// the same name (`floe log load` checks every value against these schemas).
public enum EoStreams {
    /// One of the streams.
    public enum Stream: String, Sendable, CaseIterable {
        case orders
        case payments

        /// The topic a CSV of this stream loads into: `orders` or `payments`.
        public var topic: String { rawValue }
        /// The name of the generator source: `eo_orders` or `eo_payments`.
        public var sourceName: String { "eo_" + rawValue }
        public var schema: Schema { self == .orders ? EoStreams.ordersSchema : EoStreams.paymentsSchema }
        /// The column that times its events: `event_time` or `paid_at`.
        public var timeColumn: String { self == .orders ? "event_time" : "paid_at" }
    }

    public static let ordersTopic = Stream.orders.topic
    public static let paymentsTopic = Stream.payments.topic

    /// `order_id int64, category string, amount decimal(2), event_time timestamp`.
    public static let ordersSchema = Schema([
        ColumnDef("order_id", .int64), ColumnDef("category", .bytes),
        ColumnDef("amount", .decimal(scale: 2)), ColumnDef("event_time", .timestamp),
    ])

    /// `payment_id int64, order_id int64, status string, paid_at timestamp`.
    public static let paymentsSchema = Schema([
        ColumnDef("payment_id", .int64), ColumnDef("order_id", .int64),
        ColumnDef("status", .bytes), ColumnDef("paid_at", .timestamp),
    ])

    /// The schema of the stream whose topic is `topic`, if it is one of them.
    public static func schema(forTopic topic: String) -> Schema? {
        Stream(rawValue: topic)?.schema
    }

    /// The order categories, in the order the generator indexes them.
    public static let categories = ["Apparel", "Books", "Electronics", "Garden", "Grocery", "Home", "Sports", "Toys"]
    /// The payment statuses: confirmed (70% of payments), pending (20%), failed (10%).
    public static let statuses = ["confirmed", "pending", "failed"]

    /// 2026-04-01 10:00:00 UTC in microseconds since 1970: the time of event 0.
    public static let baseTimeMicros: Int64 = 1_775_037_600_000_000
    /// The default time between consecutive events: 10 ms.
    public static let defaultInterEventMicros: Int64 = 10_000
    /// How long after event i's time payment i is paid: 30 s.
    public static let paymentDelayMicros: Int64 = 30_000_000
    /// Amounts are drawn from 1.00 ... 999.99, held in cents (decimal scale 2).
    public static let amountCents: ClosedRange<Int64> = 100...99_999
    /// A payment is for one of the 50 most recent orders (at most 49 back).
    public static let paymentLookback: UInt64 = 50
}
