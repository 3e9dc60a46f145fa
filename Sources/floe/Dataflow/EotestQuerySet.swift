import FloeDataflow

/// The views one input group of `floe eotest` runs in one pipeline, and the
/// family of input they read: the seeds' views over generated orders and
/// payments, or Nexmark queries over generated person, auction and bid events.
///
/// `--query` resolves to the sets the input groups rotate through
/// (`rotation`): group g runs set `g % count`, so a schedule's set, like the
/// rest of its plan, depends on (seed, index) alone and a replay runs the same.
struct EotestQuerySet: Sendable, Hashable, CustomStringConvertible {
    enum Family: String, Sendable, Hashable {
        /// `EoViews` over the `orders` and `payments` topics (`EoGenerator`).
        case eo
        /// `NexmarkQueries` over the `person`, `auction` and `bid` topics (`NexmarkGenerator`).
        case nexmark
    }

    let family: Family
    /// The views, in `EoViews` / `NexmarkQueries` names; never empty.
    let views: [String]

    /// The Nexmark queries `floe eotest` covers: the stateful ones (joins, windows,
    /// aggregations, top-N), whose state a kill can tear. q0-q2 map bids one to
    /// one and are left out.
    static let nexmarkQueries = [NexmarkQueries.q3, NexmarkQueries.q4, NexmarkQueries.q5, NexmarkQueries.q7,
                                 NexmarkQueries.q8, NexmarkQueries.q9]
    /// The three seeds' views in one pipeline (what `--query eo` runs).
    static let eo = EotestQuerySet(family: .eo, views: EoViews.all)
    /// The covered Nexmark queries in one pipeline (what `--query nexmark` runs).
    static let nexmark = EotestQuerySet(family: .nexmark, views: nexmarkQueries)

    /// The names `rotation` accepts, for help texts and errors.
    static let known = ["all", "eo", "nexmark"] + EoViews.all + nexmarkQueries.map(shortName)

    /// Resolves `--query`: `all` rotates between the seeds' views and the Nexmark
    /// queries (`[eo, nexmark]`); `eo` or `nexmark` is that set alone; otherwise a
    /// comma-separated list of views (`eo_order_revenue`, ..., `q3` or `nexmark_q3`,
    /// ...) runs its seeds' views in one pipeline and its Nexmark queries in
    /// another, rotating when it holds both. Throws `EotestError` naming the
    /// known names for anything else (q0-q2 included).
    static func rotation(_ query: String) throws -> [EotestQuerySet] {
        switch query {
        case "all": return [eo, nexmark]
        case "eo": return [eo]
        case "nexmark": return [nexmark]
        default: break
        }
        let parsed: PipelineQuery
        do {
            parsed = try PipelineQuery.parse(query)
        } catch {
            throw EotestError("unknown query \"\(query)\" (known: \(known.joined(separator: ", ")), or a comma-separated list of views)")
        }
        // `all` and `nexmark` inside a list would mean other sets than alone: refused.
        let items = query.split(separator: ",").map(String.init)
        if let group = items.first(where: { $0 == "all" || $0 == "nexmark" || $0 == "eo" }), items.count > 1 {
            throw EotestError("\(group) cannot be part of a list; give it alone or list the views")
        }
        if let other = parsed.nexmarkViews.first(where: { !nexmarkQueries.contains($0) }) {
            throw EotestError("floe eotest covers the Nexmark queries \(nexmarkQueries.map(shortName).joined(separator: ", ")), not \(shortName(other))")
        }
        var sets: [EotestQuerySet] = []
        if !parsed.eoViews.isEmpty { sets.append(EotestQuerySet(family: .eo, views: parsed.eoViews)) }
        if !parsed.nexmarkViews.isEmpty { sets.append(EotestQuerySet(family: .nexmark, views: parsed.nexmarkViews)) }
        return sets
    }

    /// `q3` for `nexmark_q3`; other names unchanged.
    static func shortName(_ view: String) -> String {
        view.hasPrefix("nexmark_") ? String(view.dropFirst("nexmark_".count)) : view
    }

    /// The `floe pipeline run --query` argument that runs exactly `views`.
    var pipelineQuery: String {
        if family == .eo && views == EoViews.all { return "all" }
        return views.map(Self.shortName).joined(separator: ",")
    }

    var description: String { family == .eo && views == EoViews.all ? "eo" : pipelineQuery }

    /// Events per input by default, enough that a run spans many epochs: for the
    /// seeds' views, events of each stream (the join `eo_payment_match` processes
    /// some 50k events/s on one core, the two aggregations alone twenty times as
    /// many); for the Nexmark queries, global Nexmark events (1 person, 3 auctions
    /// and 46 bids in every 50), sized so that with the release build a schedule of
    /// the six queries takes about as long as one of the three seeds' views (one
    /// query alone finishes sooner and needs more; q5 sets the pace: each
    /// change of a window's maximum joins again with every count of the window, so
    /// its cost grows faster than its input, most with the killed runs' small chunks).
    var defaultEvents: Int {
        switch family {
        case .eo: views == [EoViews.revenue] || views == [EoViews.windows] ? 400_000 : 40_000
        case .nexmark: Self.defaultNexmarkEvents
        }
    }

    static let defaultNexmarkEvents = 20_000

    /// What one input holds, for the report: "N events per stream" or "N Nexmark events".
    func eventsText(_ events: Int) -> String {
        family == .eo ? "\(events) events per stream" : "\(events) Nexmark events"
    }
}
