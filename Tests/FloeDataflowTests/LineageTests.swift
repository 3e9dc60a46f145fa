import Floe
import Foundation
import Testing
@testable import FloeDataflow

/// Per-epoch lineage and replay verification (`EpochLineage`, `ReplayVerifier`).
@Suite struct LineageTests {
    static func eoBuilder(_ o: [[[String]]], _ p: [[[String]]]) throws -> PipelineBuilder {
        try PipelineModelTests.build(o, p, views: EoViews.all)
    }

    /// Runs until the end, in several runs: stopped after a few epochs, killed
    /// (cancelled) part way, each on a reopened store with another parallelism.
    static func runWithRestarts(_ g: inout SeededGenerator, objects: MemoryObjectStore, builder: () throws -> PipelineBuilder) async throws {
        for round in 0..<4 {
            let store = try await StateStore.open(objectStore: objects)
            var options = PipelineOptions()
            options.parallelism = Int(g.next() % 3) + 1
            options.barrierIntervalMillis = 1 + Int(g.next() % 4)
            options.chunkRows = [1, 7, 64][Int(g.next() % 3)]
            switch round {
            case 0: options.maxEpochs = 1 + Int(g.next() % 3)
            case 3: options.untilEnd = true
            default: break
            }
            let pipeline = try Pipeline(store: store, builder: try builder(), options: options)
            if round == 0 || round == 3 {
                _ = try await pipeline.run()
            } else {
                // A kill: the run is cancelled after a few milliseconds; what it committed stays.
                let task = Task { try await pipeline.run() }
                try await Task.sleep(for: .milliseconds(5 + Int(g.next() % 30)))
                task.cancel()
                _ = try? await task.value
            }
            try await store.close()
        }
    }

    @Test(arguments: [1, 2, 3])
    func rangesAreContiguousAndCoverTheInputAcrossRestarts(seed: UInt64) async throws {
        var g = SeededGenerator(seed: seed)
        let partitions = Int(g.next() % 3) + 1
        let (o, p) = EoTestData.make(&g, orders: 400 + Int(g.next() % 400), payments: 300, partitions: partitions)
        let objects = MemoryObjectStore()
        try await Self.runWithRestarts(&g, objects: objects) { try Self.eoBuilder(o, p) }
        let store = try await StateStore.open(objectStore: objects)
        let records = try await EpochLineage.all(store: store)
        #expect(records.map(\.epoch) == Array(1...store.committedEpoch), "seed \(seed)")
        var previous: [String: [UInt64]] = ["orders": Array(repeating: 0, count: partitions), "payments": Array(repeating: 0, count: partitions)]
        for r in records {
            #expect(r.digestsComplete)
            #expect(r.sources.map(\.source) == ["orders", "payments"])
            for s in r.sources {
                #expect(s.start == previous[s.source], "seed \(seed) epoch \(r.epoch) \(s.source): starts at \(s.start), previous end \(previous[s.source]!)")
                #expect(zip(s.start, s.end).allSatisfy { $0 <= $1 })
                previous[s.source] = s.end
            }
        }
        // The last ranges end at the committed positions, which are the whole input.
        #expect(previous["orders"] == o.map { UInt64($0.count) }, "seed \(seed)")
        #expect(previous["payments"] == p.map { UInt64($0.count) }, "seed \(seed)")
        // The running digests equal the digests of the views' rows.
        for name in EoViews.all {
            let view = try PipelineMetadata.view(name, in: store.committedMetadata)
            let stored = try await ViewDigest.scan(store: store, view: view)
            #expect(records.last?.views[name] == stored, "seed \(seed) view \(name)")
            #expect(stored.rows == Int64(try await ViewReader(store: store, view: name).sortedRows().count))
        }
        try await store.close()
    }

    @Test func aRecordRoundTrips() throws {
        let r = EpochLineage(epoch: 7, sources: [.init(source: "orders", start: [1, 2], end: [3, 4]), .init(source: "p", start: [], end: [])],
                             views: ["v": ViewDigest(sum: 0xDEAD_BEEF, rows: -3), "w": ViewDigest()], digestsComplete: false)
        #expect(try EpochLineage.decode(r.encode(), epoch: 7) == r)
        #expect(throws: DataflowError.self) { try EpochLineage.decode(Array(r.encode().dropLast()), epoch: 7) }
        #expect(EpochLineage.key(0x0102) == [0, 0, 0, 0, 0, 0, 1, 2])
    }

    @Test(arguments: [21, 22])
    func verifyPassesAtAnyParallelism(seed: UInt64) async throws {
        var g = SeededGenerator(seed: seed)
        let (o, p) = EoTestData.make(&g, orders: 500, payments: 400, partitions: 2)
        let objects = MemoryObjectStore()
        try await Self.runWithRestarts(&g, objects: objects) { try Self.eoBuilder(o, p) }
        let recorded = try await StateStore.openReadOnly(objectStore: objects)
        for parallelism in [1, 3] {
            let scratch = try await StateStore.open(objectStore: MemoryObjectStore())
            var options = PipelineOptions()
            options.parallelism = parallelism
            options.chunkRows = 5
            // Parallelism 3 replays 3 epochs per run (restarting the replay in between).
            let result = try await ReplayVerifier.verify(recorded: recorded, scratch: scratch, builder: try Self.eoBuilder(o, p), options: options,
                                                         epochsPerRun: parallelism == 3 ? 3 : 64)
            #expect(result.passed, "seed \(seed) parallelism \(parallelism): \(result.differences)")
            #expect(result.toEpoch == recorded.committedEpoch && scratch.committedEpoch == recorded.committedEpoch)
            #expect(result.rowsReplayed == UInt64(o.joined().count + p.joined().count))
            try await scratch.close()
        }
        // Another pipeline (fewer views) is refused before anything runs.
        let scratch = try await StateStore.open(objectStore: MemoryObjectStore())
        await #expect(throws: DataflowError.self) {
            _ = try await ReplayVerifier.verify(recorded: recorded, scratch: scratch, builder: try PipelineModelTests.build(o, p, views: [EoViews.revenue]))
        }
        #expect(scratch.committedEpoch == 0)
        try await scratch.close()
        try await recorded.close()
    }

    @Test func verifyStartsFromANamedCheckpoint() async throws {
        var g = SeededGenerator(seed: 31)
        let (o, p) = EoTestData.make(&g, orders: 600, payments: 400, partitions: 2)
        let dir = try ScratchDirectory("lineage-checkpoint")
        defer { dir.remove() }
        var store = try await StateStore.open(path: dir.path + "/store")
        var options = PipelineOptions()
        options.barrierIntervalMillis = 2
        options.chunkRows = 3
        options.maxEpochs = 4
        _ = try await Pipeline(store: store, builder: try Self.eoBuilder(o, p), options: options).run()
        let mid = try await store.createCheckpoint(name: "mid")
        options.maxEpochs = nil
        options.untilEnd = true
        options.chunkRows = 50
        _ = try await Pipeline(store: store, builder: try Self.eoBuilder(o, p), options: options).run()
        try await store.close()
        _ = try await StateStore.restoreCheckpoint(name: "mid", from: dir.path + "/store", to: dir.path + "/scratch")
        let scratch = try await StateStore.open(path: dir.path + "/scratch")
        store = try await StateStore.openReadOnly(path: dir.path + "/store")
        options = PipelineOptions()
        options.parallelism = 2
        let result = try await ReplayVerifier.verify(recorded: store, scratch: scratch, builder: try Self.eoBuilder(o, p), options: options)
        #expect(result.passed, "\(result.differences)")
        #expect(result.fromEpoch == mid.epoch && mid.epoch == 4)
        try await scratch.close()
        try await store.close()
    }

    /// Orders (one partition) into a view keyed by order_id whose amount is random
    /// for orders past `after`: a non-deterministic operator.
    static func coinBuilder(_ o: [[[String]]], after: Int64) throws -> PipelineBuilder {
        let b = PipelineBuilder()
        let orders = b.source(RowsSource(name: "orders", schema: EoTestData.orders, rows: o))
        let noisy = b.add(.transform(input: orders.node, Transform(outputTypes: EoTestData.orders.types) { c, out in
            for r in 0..<c.count {
                out.appendRow(of: c, r, op: c.op(r))
                if c.int(0, r) > after { out.ints[2][out.count - 1] = Int64.random(in: 1...1_000_000_000) }
            }
        }), EoTestData.orders, "random amounts after \(after) of \(orders.node)")
        try b.materialize(noisy, as: "noisy", primaryKey: ["order_id"])
        return b
    }

    @Test(arguments: [41, 42, 43])
    func verifyNamesTheFirstEpochOfANonDeterministicOperator(seed: UInt64) async throws {
        var g = SeededGenerator(seed: seed)
        let (o, _) = EoTestData.make(&g, orders: 300, payments: 0, partitions: 1)
        let after = Int64(100 + g.next() % 150)
        let objects = MemoryObjectStore()
        try await Self.runWithRestarts(&g, objects: objects) { try Self.coinBuilder(o, after: after) }
        let recorded = try await StateStore.openReadOnly(objectStore: objects)
        // Order ids are 1, 2, ... in offset order: the first random row is at offset `after`.
        let records = try await EpochLineage.all(store: recorded)
        let expected = try #require(records.first { $0.sources[0].end[0] > UInt64(after) }).epoch
        let scratch = try await StateStore.open(objectStore: MemoryObjectStore())
        var options = PipelineOptions()
        options.parallelism = 2
        let result = try await ReplayVerifier.verify(recorded: recorded, scratch: scratch, builder: try Self.coinBuilder(o, after: after), options: options,
                                                     epochsPerRun: 2)
        #expect(result.firstBadEpoch == expected, "seed \(seed): \(result.differences)")
        #expect(result.differences.map(\.view) == ["noisy"] && result.differences.first?.kind == .replay)
        try await scratch.close()
        try await recorded.close()
    }

    @Test func verifyFindsATamperedStore() async throws {
        var g = SeededGenerator(seed: 51)
        let (o, p) = EoTestData.make(&g, orders: 400, payments: 300, partitions: 2)
        let objects = MemoryObjectStore()
        try await Self.runWithRestarts(&g, objects: objects) { try Self.eoBuilder(o, p) }
        func verify() async throws -> ReplayVerification {
            let recorded = try await StateStore.openReadOnly(objectStore: objects)
            let scratch = try await StateStore.open(objectStore: MemoryObjectStore())
            let result = try await ReplayVerifier.verify(recorded: recorded, scratch: scratch, builder: try Self.eoBuilder(o, p))
            try await scratch.close()
            try await recorded.close()
            return result
        }
        #expect(try await verify().passed)

        // A view row changed outside the pipeline, in an epoch that read nothing.
        var store = try await StateStore.open(objectStore: objects)
        let c = store.committedEpoch
        var last = try #require(try await EpochLineage.read(store: store, epoch: c))
        let view = try PipelineMetadata.view(EoViews.revenue, in: store.committedMetadata)
        let rows = try await store.scan(view.table, from: nil, to: nil, epoch: c)
        var firstKey: [UInt8] = []
        try await rows.forEachRow { k, _ in firstKey = Array(k); return false }
        try store.put(view.table, key: firstKey, value: [1, 2, 3], epoch: c + 1)
        last.epoch = c + 1
        last.sources = last.sources.map { .init(source: $0.source, start: $0.end, end: $0.end) }
        try store.put(EpochLineage.table, key: EpochLineage.key(c + 1), value: last.encode(), epoch: c + 1)
        try await store.checkpoint(epoch: c + 1, metadata: store.committedMetadata)
        try await store.close()
        var result = try await verify()
        #expect(result.firstBadEpoch == c + 1 && result.differences.map(\.view) == [EoViews.revenue], "\(result.differences)")
        #expect(result.differences.first?.kind == .contents)

        // A recorded digest of an earlier epoch changed: that epoch is the first to differ.
        store = try await StateStore.open(objectStore: objects)
        let k = c / 2 + 1
        var record = try #require(try await EpochLineage.read(store: store, epoch: k))
        record.views[EoViews.paymentMatch]!.sum &+= 1
        try store.put(EpochLineage.table, key: EpochLineage.key(k), value: record.encode(), epoch: c + 2)
        last.epoch = c + 2
        try store.put(EpochLineage.table, key: EpochLineage.key(c + 2), value: last.encode(), epoch: c + 2)
        try await store.checkpoint(epoch: c + 2, metadata: store.committedMetadata)
        try await store.close()
        result = try await verify()
        #expect(result.firstBadEpoch == k && result.differences.map(\.view) == [EoViews.paymentMatch], "\(result.differences)")
    }

    @Test func verifyRefusesASourceThatLacksTheRecordedInput() async throws {
        var g = SeededGenerator(seed: 61)
        let (o, p) = EoTestData.make(&g, orders: 200, payments: 100, partitions: 2)
        let store = try await StateStore.open(objectStore: MemoryObjectStore())
        var options = PipelineOptions()
        options.untilEnd = true
        options.barrierIntervalMillis = 2
        _ = try await Pipeline(store: store, builder: try Self.eoBuilder(o, p), options: options).run()
        let scratch = try await StateStore.open(objectStore: MemoryObjectStore())
        let shorter = [Array(o[0].dropLast(3)), o[1]]
        await #expect(throws: DataflowError.self) {
            _ = try await ReplayVerifier.verify(recorded: store, scratch: scratch, builder: try Self.eoBuilder(shorter, p))
        }
        #expect(scratch.committedEpoch == 0)
        try await scratch.close()
        try await store.close()
    }

    /// Every Nexmark view (top-N, max, joins, windows: operators that retract):
    /// the running digests equal the views' rows, and a replay at another
    /// parallelism verifies.
    @Test func nexmarkViewsVerify() async throws {
        var g = SeededGenerator(seed: 71)
        let data = NexmarkTestData(&g, partitions: 2)
        for view in try NexmarkQueries.names("all") {
            let store = try await StateStore.open(objectStore: MemoryObjectStore())
            var options = PipelineOptions()
            options.parallelism = 2
            options.untilEnd = true
            options.barrierIntervalMillis = 1 + Int(g.next() % 3)
            options.chunkRows = 16
            _ = try await Pipeline(store: store, builder: try NexmarkQueriesTests.build(data, view: view), options: options).run()
            let definition = try PipelineMetadata.view(view, in: store.committedMetadata)
            let last = try #require(try await EpochLineage.read(store: store, epoch: store.committedEpoch))
            #expect(last.views[view] == (try await ViewDigest.scan(store: store, view: definition)), "\(view)")
            let scratch = try await StateStore.open(objectStore: MemoryObjectStore())
            options = PipelineOptions()
            options.parallelism = 3
            let result = try await ReplayVerifier.verify(recorded: store, scratch: scratch, builder: try NexmarkQueriesTests.build(data, view: view),
                                                         options: options)
            #expect(result.passed, "\(view): \(result.differences)")
            try await scratch.close()
            try await store.close()
        }
    }

    /// A run on a store whose committed epoch has no record (written before lineage
    /// was recorded) marks its digests incomplete, and verify refuses those epochs.
    @Test func digestsAfterAnEpochWithoutLineageAreIncomplete() async throws {
        var g = SeededGenerator(seed: 81)
        let (o, p) = EoTestData.make(&g, orders: 300, payments: 200, partitions: 2)
        let objects = MemoryObjectStore()
        var store = try await StateStore.open(objectStore: objects)
        var options = PipelineOptions()
        options.barrierIntervalMillis = 2
        options.maxEpochs = 2
        _ = try await Pipeline(store: store, builder: try Self.eoBuilder(o, p), options: options).run()
        // An epoch that removes the committed record, as if it had been written before lineage.
        let c = store.committedEpoch
        try store.delete(EpochLineage.table, key: EpochLineage.key(c), epoch: c + 1)
        try await store.checkpoint(epoch: c + 1, metadata: store.committedMetadata)
        options.maxEpochs = nil
        options.untilEnd = true
        _ = try await Pipeline(store: store, builder: try Self.eoBuilder(o, p), options: options).run()
        let after = try #require(try await EpochLineage.read(store: store, epoch: c + 2))
        #expect(!after.digestsComplete)
        #expect(try await EpochLineage.read(store: store, epoch: c + 1) == nil)
        try await store.close()
        store = try await StateStore.openReadOnly(objectStore: objects)
        let scratch = try await StateStore.open(objectStore: MemoryObjectStore())
        await #expect(throws: DataflowError.self) {
            _ = try await ReplayVerifier.verify(recorded: store, scratch: scratch, builder: try Self.eoBuilder(o, p))
        }
        try await scratch.close()
        try await store.close()
    }

    /// A view keyed by a column that does not identify its rows keeps the last row
    /// per key (arrival order): verify reports its rows against its digest at the last epoch.
    @Test func aViewWithoutAUniqueKeyFailsAtTheLastEpoch() async throws {
        var g = SeededGenerator(seed: 91)
        let (o, _) = EoTestData.make(&g, orders: 200, payments: 0, partitions: 2)
        func build() throws -> PipelineBuilder {
            let b = PipelineBuilder()
            try b.materialize(b.source(RowsSource(name: "orders", schema: EoTestData.orders, rows: o)), as: "by_category", primaryKey: ["category"])
            return b
        }
        let store = try await StateStore.open(objectStore: MemoryObjectStore())
        var options = PipelineOptions()
        options.untilEnd = true
        options.barrierIntervalMillis = 2
        _ = try await Pipeline(store: store, builder: try build(), options: options).run()
        let scratch = try await StateStore.open(objectStore: MemoryObjectStore())
        let result = try await ReplayVerifier.verify(recorded: store, scratch: scratch, builder: try build())
        #expect(result.firstBadEpoch == store.committedEpoch && result.differences.first?.kind == .contents, "\(result.differences)")
        try await scratch.close()
        try await store.close()
    }
}

