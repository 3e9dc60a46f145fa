import Floe
import InMemoryLogging
import Logging
import MetricsTestKit
import Testing
@testable import FloeDataflow

/// The pipeline's metrics (per operator and per epoch, never per row) and logs,
/// through in-memory backends handed in by `PipelineOptions`.
@Suite struct PipelineObservabilityTests {
    @Test func operatorsSourcesAndEpochsAreMeasured() async throws {
        let scratch = try ScratchDirectory("pipeline-metrics")
        defer { scratch.remove() }
        let log = try PartitionedLog(directory: scratch.path + "/log")
        try await CsvLoader.load(csv: EoGenerator(stream: .orders, seed: 11).csv(events: 0..<2000), file: "orders.csv",
                                 into: log, topic: "orders", partitions: 2)
        let store = try await StateStore.open(path: scratch.path + "/store")
        let b = PipelineBuilder()
        let orders = b.source(try await LogSource(log: log, topic: "orders", schema: EoStreams.ordersSchema))
        let revenue = try b.aggregate(orders, groupBy: ["category"], [.count(as: "n"), .sum("amount", as: "total")])
        try b.materialize(revenue, as: "revenue", primaryKey: ["category"])

        let metrics = TestMetrics()
        let handler = InMemoryLogHandler()
        var options = PipelineOptions()
        options.parallelism = 2
        options.barrierIntervalMillis = 20
        options.chunkRows = 64
        options.untilEnd = true
        options.metricsFactory = metrics
        var h = handler
        h.logLevel = .trace
        options.logger = Logger(label: "test", factory: { _ in h })
        let report = try await Pipeline(store: store, builder: b, options: options).run()
        #expect(report.eventsIn == 2000)
        let epochs = Int(report.endEpoch - report.startEpoch)
        #expect(epochs >= 1)

        #expect(metrics.counterTotal(label: "floe_pipeline_source_events_total", dimensions: [("source", "log:orders")]) == 2000)
        #expect(metrics.counterTotal(label: "floe_pipeline_events_in_total", dimensions: [("operator", "1_aggregate")]) == 2000)
        let aggregated = metrics.counterTotal(label: "floe_pipeline_events_out_total", dimensions: [("operator", "1_aggregate")])
        #expect(aggregated > 0)
        #expect(metrics.counterTotal(label: "floe_pipeline_events_in_total", dimensions: [("operator", "2_view_revenue")]) == aggregated)
        // Per epoch, not per chunk or row: at most one increment per instance and epoch.
        let increments = metrics.counters(label: "floe_pipeline_events_in_total", dimensions: [("operator", "1_aggregate")])
            .reduce(0) { $0 + $1.values.count }
        #expect(increments <= 2 * epochs)
        #expect(metrics.counterTotal(label: "floe_pipeline_epochs_committed_total") == Int64(epochs))
        // Every epoch of this run was injected by it: each has a barrier-to-commit time,
        // in the report and in the metric (the barrier metric must not consume it).
        #expect(report.commitLatencyMillis.count == epochs)
        #expect(try metrics.expectTimer("floe_pipeline_epoch_commit_seconds").values.count == epochs)
        #expect(try metrics.expectTimer("floe_pipeline_barrier_seconds").values.count == epochs)
        #expect(try metrics.expectTimer("floe_pipeline_restart_to_first_commit_seconds").values.count == 1)
        // Two source partitions feed each aggregate instance: every epoch aligns two inputs.
        #expect(try metrics.expectTimer("floe_pipeline_alignment_seconds").values.count == 2 * epochs)

        let start = try #require(handler.entries.first { $0.message.description == "pipeline starting" })
        #expect(start.level == .debug)
        #expect(start.metadata["floe.epoch"]?.description == "0")
        #expect(handler.entries.filter { $0.message.description == "pipeline epoch committed" }.count == epochs)
        #expect(handler.entries.contains { $0.message.description == "pipeline run ended" })
        #expect(handler.entries.allSatisfy { $0.level <= .debug })

        // A restart logs the committed epoch and positions it resumes from.
        let again = InMemoryLogHandler()
        var h2 = again
        h2.logLevel = .debug
        options.logger = Logger(label: "test", factory: { _ in h2 })
        options.metricsFactory = TestMetrics()
        _ = try await Pipeline(store: store, builder: b, options: options).run()
        let restart = try #require(again.entries.first { $0.message.description == "pipeline starting" })
        #expect(restart.metadata["floe.epoch"]?.description == "\(report.endEpoch)")
        let ends = try await log.endOffsets("orders")
        #expect(restart.metadata["floe.positions"]?.description == "log:orders=\(ends)")
        try await store.close()
    }
}
