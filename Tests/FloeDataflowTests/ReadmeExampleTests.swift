import Floe
import Testing
@testable import FloeDataflow

/// The streaming example of README.md, as written there (paths under a scratch
/// directory): it must compile and give the revenue per category.
@Suite struct ReadmeExampleTests {
    @Test func theReadmePipelineRunsAndResumes() async throws {
        let scratch = try ScratchDirectory("readme")
        defer { scratch.remove() }
        let root = scratch.path
        // `floe log load` of 1000 generated orders, done through the library.
        let input = try PartitionedLog(directory: root + "/shop-log")
        try await CsvLoader.load(csv: EoGenerator(stream: .orders, seed: 7).csv(events: 0..<1000), file: "orders.csv",
                                 into: input, topic: "orders", partitions: 2)

        // --- README.md, "A streaming pipeline" ---
        let store = try await StateStore.open(path: root + "/shop")
        let log = try PartitionedLog(directory: root + "/shop-log")   // filled by `floe log load`
        let b = PipelineBuilder()
        let orders = b.source(try await LogSource(log: log, topic: "orders", schema: EoStreams.ordersSchema))
        let revenue = try b.aggregate(orders, groupBy: ["category"],
                                      [.count(as: "order_count"), .sum("amount", as: "total_revenue")])
        try b.materialize(revenue, as: "revenue", primaryKey: ["category"])

        var options = PipelineOptions()
        options.parallelism = 2            // any value on any restart: state is keyed by virtual node
        options.barrierIntervalMillis = 1000
        options.untilEnd = true            // stop once the log's rows are consumed and committed
        options.sinks = [try SQLiteSink(path: root + "/shop.db", views: ["revenue": revenue.schema])]
        let report = try await Pipeline(store: store, builder: b, options: options).run()
        let csv = try await ViewReader(store: store, view: "revenue").csv()
        // --- end of the README's code ---

        #expect(report.eventsIn == 1000)
        // Independent check: the generator's own orders, summed per category.
        let g = EoGenerator(stream: .orders, seed: 7)
        var counts: [String: Int] = [:], cents: [String: Int64] = [:]
        for i in 0..<UInt64(1000) {
            let f = g.fields(i)
            counts[f[1], default: 0] += 1
            cents[f[1], default: 0] += ValueText.parse(f[2], .decimal(scale: 2))!
        }
        let expected = "category,order_count,total_revenue\n" + counts.keys.sorted().map {
            "\($0),\(counts[$0]!),\(ValueText.formatDecimal(cents[$0]!, scale: 2))\n"
        }.joined()
        #expect(csv == expected)
        let sink = try SQLiteSink(path: root + "/shop.db", views: ["revenue": revenue.schema])
        #expect(SinkRowOrder.sorted(try sink.rows(view: "revenue")) == SinkRowOrder.sorted(expected.split(separator: "\n").dropFirst().map { $0.split(separator: ",").map(String.init) }))
        try await store.close()
    }
}
