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

    /// Builds the pipeline of `query` (as `parse` reads it) over the log in `log`:
    /// the seeds' views over its orders (and payments) topics, with the allowed
    /// lateness of event times, and the Nexmark views over its person, auction and
    /// bid topics, timed by `date_time` with the same lateness (the windowed
    /// queries then clean closed windows, `NexmarkQueries.add`). `floe pipeline
    /// run` and `floe pipeline verify` build the same pipeline from the same
    /// arguments. Throws for an unknown query, a missing log or topic.
    static func builder(log: String, query text: String, latenessMs: Int?) async throws -> PipelineBuilder {
        let query = try parse(text)
        let logDir = try PartitionedLog(directory: log, create: false)
        let b = PipelineBuilder()
        let lateness = latenessMs.map { Int64($0) * 1000 }
        func source(_ stream: EoStreams.Stream) async throws -> PipelineBuilder.Stream {
            let s = try await LogSource(log: logDir, topic: stream.topic, schema: stream.schema)
            guard let lateness else { return b.source(s) }
            return try b.source(s, eventTime: stream.timeColumn, latenessMicros: lateness)
        }
        if !query.eoViews.isEmpty {
            let orders = try await source(.orders)
            let payments = query.eoViews.contains(EoViews.paymentMatch) ? try await source(.payments) : nil
            try EoViews.add(query.eoViews, to: b, orders: orders, payments: payments)
        }
        if !query.nexmarkViews.isEmpty {
            var sources: [NexmarkStreams.Stream: any Source] = [:]
            for s in try NexmarkQueries.inputs(of: query.nexmarkViews) {
                sources[s] = try await LogSource(log: logDir, topic: s.topic, schema: s.schema)
            }
            try NexmarkQueries.add(query.nexmarkViews, to: b, sources: sources, latenessMicros: lateness)
        }
        return b
    }
}
