import FloeDataflow

/// The pipeline of `floe pipeline run --query` over a log: the seeds' views
/// (`EoViews`) over the log's orders (and payments) topics, with the allowed
/// lateness of event times. `floe pipeline verify` replays the same pipeline.
enum PipelineQuery {
    /// Builds the pipeline of `query` (view names or `all`) over the log in `log`.
    /// Throws for an unknown query, a missing log or topic.
    static func builder(log: String, query: String, latenessMs: Int?) async throws -> PipelineBuilder {
        let names = try EoViews.names(query)
        let logDir = try PartitionedLog(directory: log, create: false)
        let b = PipelineBuilder()
        let lateness = latenessMs.map { Int64($0) * 1000 }
        func source(_ stream: EoStreams.Stream) async throws -> PipelineBuilder.Stream {
            let s = try await LogSource(log: logDir, topic: stream.topic, schema: stream.schema)
            guard let lateness else { return b.source(s) }
            return try b.source(s, eventTime: stream.timeColumn, latenessMicros: lateness)
        }
        let orders = try await source(.orders)
        let payments = names.contains(EoViews.paymentMatch) ? try await source(.payments) : nil
        try EoViews.add(names, to: b, orders: orders, payments: payments)
        return b
    }
}
