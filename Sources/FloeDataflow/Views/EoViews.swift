import Floe

/// The three views of the seeds, over `eo_orders(order_id, category, amount,
/// event_time)` and `eo_payments(payment_id, order_id, status, paid_at)`, as seed
/// 000 defines them in SQL:
///
/// ```sql
/// CREATE MATERIALIZED VIEW eo_order_revenue AS
///   SELECT category, COUNT(*) AS order_count, SUM(amount) AS total_revenue, AVG(amount) AS avg_amount
///   FROM eo_orders GROUP BY category;
/// CREATE MATERIALIZED VIEW eo_payment_match AS
///   SELECT o.order_id, o.category, o.amount, p.status AS payment_status
///   FROM eo_orders o JOIN eo_payments p ON o.order_id = p.order_id WHERE p.status = 'confirmed';
/// CREATE MATERIALIZED VIEW eo_order_windows AS
///   SELECT category, window_start, window_end, COUNT(*) AS order_count, SUM(amount) AS window_revenue
///   FROM TUMBLE(eo_orders, event_time, INTERVAL '5 MINUTES') GROUP BY category, window_start, window_end;
/// ```
///
/// `eo_payment_match` keeps `payment_id` as a hidden key column: an order with two
/// confirmed payments has two equal rows, as in SQL.
public enum EoViews {
    public static let revenue = "eo_order_revenue"
    public static let paymentMatch = "eo_payment_match"
    public static let windows = "eo_order_windows"
    public static let all = [revenue, paymentMatch, windows]

    /// Adds the views named in `names` (any of `all`) over the two streams.
    /// Throws `DataflowError.unknown` for another name.
    public static func add(_ names: [String], to b: PipelineBuilder, orders: PipelineBuilder.Stream, payments: PipelineBuilder.Stream?) throws {
        for name in names {
            switch name {
            case revenue:
                let agg = try b.aggregate(orders, groupBy: ["category"],
                                          [.count(as: "order_count"), .sum("amount", as: "total_revenue"), .avg("amount", as: "avg_amount")])
                try b.materialize(agg, as: revenue, primaryKey: ["category"])
            case paymentMatch:
                guard let payments else { throw DataflowError.invalidArgument("\(paymentMatch) needs the payments stream") }
                let confirmed = try b.filter(payments, "status", equals: "confirmed")
                let joined = try b.join(orders, confirmed, leftKey: ["order_id"], rightKey: ["order_id"],
                                        leftPrimaryKey: ["order_id"], rightPrimaryKey: ["payment_id"],
                                        select: [(0, "order_id", "order_id"), (0, "category", "category"), (0, "amount", "amount"),
                                                 (1, "status", "payment_status"), (1, "payment_id", "payment_id")])
                try b.materialize(joined, as: paymentMatch, primaryKey: ["order_id", "payment_id"],
                                  columns: ["order_id", "category", "amount", "payment_status"])
            case windows:
                let w = try b.tumble(orders, time: "event_time", sizeMicros: 5 * 60 * 1_000_000)
                let agg = try b.aggregate(w, groupBy: ["category", "window_start", "window_end"],
                                          [.count(as: "order_count"), .sum("amount", as: "window_revenue")])
                try b.materialize(agg, as: windows, primaryKey: ["category", "window_start", "window_end"])
            default:
                throw DataflowError.unknown(kind: "view", name: name, known: all)
            }
        }
    }

    /// `all` for "all", else the one name.
    public static func names(_ query: String) throws -> [String] {
        if query == "all" { return all }
        guard all.contains(query) else { throw DataflowError.unknown(kind: "query", name: query, known: all + ["all"]) }
        return [query]
    }
}
