import Floe
import FloeTesting
import Testing
@testable import FloeDataflow

/// The three views of the seeds run over random input, in random epochs, with
/// random parallelism, stopped and restarted (with another parallelism) part way:
/// every view must equal the direct evaluation of its query over the input.
@Suite struct PipelineModelTests {
    static func build(_ o: [[[String]]], _ p: [[[String]]], views: [String]) throws -> PipelineBuilder {
        let b = PipelineBuilder()
        let orders = b.source(RowsSource(name: "orders", schema: EoTestData.orders, rows: o))
        let payments = b.source(RowsSource(name: "payments", schema: EoTestData.payments, rows: p))
        try EoViews.add(views, to: b, orders: orders, payments: payments)
        return b
    }

    static func sortedText(_ rows: [[String]]) -> [[String]] { rows.sorted { $0.lexicographicallyPrecedes($1) } }

    @Test(arguments: ModelSeeds.thinned([1, 2, 3, 4, 5, 6] as [UInt64]))
    func viewsEqualTheQueryAfterRestarts(seed: UInt64) async throws {
        var g = SeededGenerator(seed: seed)
        let partitions = Int(g.next() % 3) + 1
        let (o, p) = EoTestData.make(&g, orders: 300 + Int(g.next() % 700), payments: 400, partitions: partitions)
        let objects = MemoryObjectStore()
        var store = try await StateStore.open(objectStore: objects)
        var runs = 0
        var first = true
        let scratch = try ScratchDirectory("pipeline-sinks")
        defer { scratch.remove() }
        let viewSchemas = try Dictionary(uniqueKeysWithValues: Pipeline(store: store, builder: try Self.build(o, p, views: EoViews.all)).views.map { ($0.name, $0.schema) })
        while true {
            var options = PipelineOptions()
            // Sinks reopened on every run, as a new process would.
            let sqlite = try SQLiteSink(path: scratch.path + "/sink.db", views: viewSchemas)
            let files = try FileSink(directory: scratch.path + "/files", views: viewSchemas)
            options.sinks = [sqlite, files]
            options.parallelism = Int(g.next() % 3) + 1
            options.barrierIntervalMillis = 1 + Int(g.next() % 5)
            options.chunkRows = [1, 7, 64, 1024][Int(g.next() % 4)]
            options.channelCapacity = Int(g.next() % 4) + 1
            options.cacheBytes = g.next() % 2 == 0 ? 1 : 64 << 20
            // The first run stops after a few epochs (a clean stop); the next ones go to the end.
            if first { options.maxEpochs = 1 + Int(g.next() % 3) } else { options.untilEnd = true }
            let pipeline = try Pipeline(store: store, builder: try Self.build(o, p, views: EoViews.all), options: options)
            let report = try await pipeline.run()
            #expect(report.endEpoch > report.startEpoch, "seed \(seed)")
            runs += 1
            if !first { break }
            first = false
            try await store.close()
            store = try await StateStore.open(objectStore: objects)
        }
        let expected = EoTestData.expected(orders: o, payments: p)
        for name in EoViews.all {
            let got = Self.sortedText(try await ViewReader(store: store, view: name).sortedRows())
            #expect(got == expected[name]!, "seed \(seed) view \(name): \(got.count) rows, expected \(expected[name]!.count)")
            let sqlite = try SQLiteSink(path: scratch.path + "/sink.db", views: viewSchemas)
            let files = try FileSink(directory: scratch.path + "/files", views: viewSchemas)
            #expect(Self.sortedText(try sqlite.rows(view: name)) == expected[name]!, "seed \(seed) sqlite sink \(name)")
            #expect(Self.sortedText(try files.rows(view: name)) == expected[name]!, "seed \(seed) file sink \(name)")
            // Every committed epoch delivered once, in order.
            let epochs = try files.epochs(view: name)
            #expect(epochs == Array(1...store.committedEpoch), "seed \(seed) file sink epochs \(epochs)")
            #expect(try sqlite.deliveredEpoch(view: name) == store.committedEpoch)
        }
        #expect(runs == 2)
        #expect(expected.values.allSatisfy { !$0.isEmpty }, "seed \(seed): the input must give every view rows")
        try await store.close()
    }
}

extension PipelineModelTests {
    /// A malformed row stops the run with an error naming it; what was committed
    /// before stays, and is exactly the query over the rows before the committed offsets.
    @Test(arguments: ModelSeeds.thinned([11, 12, 13] as [UInt64]))
    func aFailedRunLeavesTheViewsOfItsCommittedOffsets(seed: UInt64) async throws {
        var g = SeededGenerator(seed: seed)
        var (o, p) = EoTestData.make(&g, orders: 3000, payments: 3000, partitions: 2)
        let bad = o[0].count / 2 + Int(g.next() % 100)
        o[0][bad][2] = "12.3.4"
        let objects = MemoryObjectStore()
        let store = try await StateStore.open(objectStore: objects)
        var options = PipelineOptions()
        options.untilEnd = true
        options.barrierIntervalMillis = 1
        options.chunkRows = 16
        options.parallelism = 2
        let pipeline = try Pipeline(store: store, builder: try Self.build(o, p, views: EoViews.all), options: options)
        await #expect(throws: DataflowError.self) { _ = try await pipeline.run() }
        try await store.close()
        let reopened = try await StateStore.open(objectStore: objects)
        let meta = reopened.committedMetadata
        let oo = try PipelineMetadata.decodeOffsets(meta[PipelineMetadata.sourceKey("orders")] ?? [], source: "orders")
        let po = try PipelineMetadata.decodeOffsets(meta[PipelineMetadata.sourceKey("payments")] ?? [], source: "payments")
        #expect(oo.count == 2 && po.count == 2, "seed \(seed): offsets committed")
        #expect(oo[0] <= UInt64(bad), "seed \(seed): the bad row was never committed")
        #expect(oo[0] > 0 || reopened.committedEpoch == 0, "seed \(seed)")
        let prefixO = (0..<2).map { Array(o[$0].prefix(Int(oo[$0]))) }, prefixP = (0..<2).map { Array(p[$0].prefix(Int(po[$0]))) }
        let expected = EoTestData.expected(orders: prefixO, payments: prefixP)
        for name in EoViews.all {
            let got = Self.sortedText(try await ViewReader(store: reopened, view: name).sortedRows())
            #expect(got == expected[name]!, "seed \(seed) view \(name)")
        }
        try await reopened.close()
    }
}
