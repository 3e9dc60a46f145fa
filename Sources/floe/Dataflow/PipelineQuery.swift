import FloeDataflow

/// The views `floe pipeline run --query` (and `floe eotest`'s children) run: a
/// comma-separated list whose items are the seeds' views (`eo_order_revenue`,
/// `eo_payment_match`, `eo_order_windows`, or `all` for the three; they read
/// the log's `orders` and `payments` topics) and the Nexmark queries (`q0` ...
/// `q9` or `nexmark_q0` ..., or `nexmark` for all of them; they read the
/// `person`, `auction` and `bid` topics). Both families may be mixed in one
/// pipeline; each view is named once, in the order first listed.
struct PipelineQuery: Equatable, Sendable {
    /// The seeds' views, in `EoViews` names.
    var eoViews: [String] = []
    /// The Nexmark views, in `NexmarkQueries` names (`nexmark_qN`).
    var nexmarkViews: [String] = []

    /// Every view, the seeds' first.
    var views: [String] { eoViews + nexmarkViews }

    /// The query names `parse` accepts, for help texts and errors.
    static let known = EoViews.all + ["all"] + NexmarkQueries.all.map { String($0.dropFirst("nexmark_".count)) } + ["nexmark"]

    /// Resolves `query` (never empty when it returns). Throws
    /// `DataflowError.unknown` (listing `known`) for an item, or an empty one,
    /// that is neither family's name.
    static func parse(_ query: String) throws -> PipelineQuery {
        var out = PipelineQuery()
        for item in query.split(separator: ",", omittingEmptySubsequences: false) {
            let name = String(item)
            if name == "nexmark" {
                for v in NexmarkQueries.all where !out.nexmarkViews.contains(v) { out.nexmarkViews.append(v) }
            } else if let eo = try? EoViews.names(name) {
                for v in eo where !out.eoViews.contains(v) { out.eoViews.append(v) }
            } else if let nexmark = try? NexmarkQueries.names(name), name != "all" {
                for v in nexmark where !out.nexmarkViews.contains(v) { out.nexmarkViews.append(v) }
            } else {
                throw DataflowError.unknown(kind: "query", name: name, known: known)
            }
        }
        return out
    }
}
