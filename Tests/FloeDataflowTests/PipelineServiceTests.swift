import Floe
import Logging
import ServiceLifecycle
import Testing
@testable import FloeDataflow

/// A pipeline as a service in a real `ServiceGroup`: graceful shutdown ends the
/// epoch in progress at a barrier injected at once, commits it (view rows and
/// source offsets together) and returns the run's report.
@Suite struct PipelineServiceTests {
    @Test(.timeLimit(.minutes(1)))
    func gracefulShutdownCommitsTheEpochInProgress() async throws {
        let scratch = try ScratchDirectory("pipeline-service")
        defer { scratch.remove() }
        let log = try PartitionedLog(directory: scratch.path + "/log")
        try await CsvLoader.load(csv: EoGenerator(stream: .orders, seed: 5).csv(events: 0..<3000), file: "orders.csv",
                                 into: log, topic: "orders", partitions: 2)
        let store = try await StateStore.open(path: scratch.path + "/store")
        let b = PipelineBuilder()
        let orders = b.source(try await LogSource(log: log, topic: "orders", schema: EoStreams.ordersSchema))
        let revenue = try b.aggregate(orders, groupBy: ["category"], [.count(as: "n")])
        try b.materialize(revenue, as: "revenue", primaryKey: ["category"])
        var options = PipelineOptions()
        // No barrier would come for a minute: only the shutdown's own barrier ends the epoch.
        options.barrierIntervalMillis = 60_000
        let reports = Lock<[PipelineReport]>([])
        let service = PipelineService(pipeline: try Pipeline(store: store, builder: b, options: options)) { r in reports.withLock { $0.append(r) } }
        let group = ServiceGroup(configuration: .init(services: [
            .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .cancelGroup),
        ], logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })))
        let started = ContinuousClock.now
        let running = Task { try await group.run() }
        try await Task.sleep(for: .milliseconds(300))
        #expect(store.committedEpoch == 0)
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(ContinuousClock.now - started < .seconds(30), "the shutdown did not wait for the barrier interval")
        let report = try #require(reports.withLock { $0.first })
        #expect(report.startEpoch == 0 && report.endEpoch == 1, "exactly the epoch in progress was committed")
        #expect(store.committedEpoch == 1)
        // The view and the committed offsets describe the same rows: the epoch is whole.
        let offsets = try PipelineMetadata.decodeOffsets(store.committedMetadata[PipelineMetadata.sourceKey("log:orders")] ?? [],
                                                         source: "log:orders")
        let rows = try await ViewReader(store: store, view: "revenue").sortedRows(at: 1)
        let counted = rows.reduce(0) { $0 + (Int($1[1]) ?? -1_000_000) }
        #expect(UInt64(counted) == offsets.reduce(0, +))
        #expect(counted == report.eventsIn)
        try await store.close()
    }
}
