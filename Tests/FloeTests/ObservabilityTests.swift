import CoreMetrics
import InMemoryLogging
import Logging
import MetricsTestKit
import Testing
@testable import Floe

/// What the store logs (swift-log) and measures (swift-metrics), checked through
/// in-memory backends handed in by `StoreOptions` (nothing is bootstrapped).
@Suite struct ObservabilityTests {
    static let table = TableID(1)

    static func options(_ log: InMemoryLogHandler? = nil, _ metrics: TestMetrics? = nil) -> StoreOptions {
        var o = StoreOptions()
        o.compaction.background = false
        o.compaction.l0CompactionTrigger = 2
        if let log {
            var handler = log
            handler.logLevel = .trace
            o.logger = Logger(label: "test", factory: { _ in handler })
        }
        o.metricsFactory = metrics
        return o
    }

    static func key(_ i: Int) -> [UInt8] { Array("key\(1000 + i)".utf8) }

    /// Writes `keys` keys in each of `epochs` epochs (checkpointed one by one).
    static func fill(_ store: StateStore, epochs: ClosedRange<UInt64>, keys: Int) async throws {
        for e in epochs {
            for i in 0..<keys { try store.put(table, key: key(i), value: Array("v\(e)-\(i)".utf8), epoch: e) }
            try await store.checkpoint(epoch: e, metadata: [:])
        }
    }

    @Test func openCompactionAndGCLogAtDebugOrBelow() async throws {
        let log = InMemoryLogHandler()
        let mem = MemoryObjectStore()
        let store = try await StateStore.open(objectStore: mem, options: Self.options(log))
        try await Self.fill(store, epochs: 1...3, keys: 50)
        let compacted = try await store.compactUntilQuiescent()
        #expect(compacted > 0)
        let gc = try await store.collectGarbage(graceSeconds: 0)
        #expect(gc.deletedObjects > 0)
        try await store.close()

        let entries = log.entries
        let opened = try #require(entries.first { $0.message.description == "store opened" })
        #expect(opened.level == .debug)
        #expect(opened.metadata["floe.epoch"]?.description == "0")
        #expect(opened.metadata["floe.manifest.sequence"]?.description == "1")
        #expect(opened.metadata["floe.open.ms"] != nil)
        #expect(opened.metadata["floe.session"]?.description == "1")
        let tasks = entries.filter { $0.message.description == "compaction task done" }
        #expect(tasks.count == compacted)
        #expect(tasks.allSatisfy { $0.level == .debug && $0.metadata["floe.compaction.kind"] != nil })
        let pass = try #require(entries.first { $0.message.description == "gc pass deleted unreferenced objects" })
        #expect(pass.level == .debug)
        #expect(pass.metadata["floe.gc.deleted"]?.description == "\(gc.deletedObjects)")
        #expect(entries.filter { $0.message.description == "gc deleted" }.count == gc.deletedObjects)
        // swift-log's guidance for libraries: nothing above info in normal operation.
        #expect(entries.allSatisfy { $0.level <= .info }, "\(entries.filter { $0.level > .info })")

        // Reopened: recovery logs the epoch and sequence it found.
        let log2 = InMemoryLogHandler()
        let again = try await StateStore.open(objectStore: mem, options: Self.options(log2))
        let reopened = try #require(log2.entries.first { $0.message.description == "store opened" })
        #expect(reopened.metadata["floe.epoch"]?.description == "3")
        #expect(reopened.metadata["floe.manifest.sequence"]?.description == "\(again.statistics.manifestSequence)")
        try await again.close()
    }

    @Test func aFencedWriterWarnsOnce() async throws {
        let logA = InMemoryLogHandler()
        let mem = MemoryObjectStore()
        let a = try await StateStore.open(objectStore: mem, options: Self.options(logA))
        try await Self.fill(a, epochs: 1...1, keys: 5)
        let b = try await StateStore.open(objectStore: mem, options: Self.options())
        for e: UInt64 in 2...4 {
            // The first write goes through (the writer does not know yet); later ones throw `fenced`.
            _ = try? a.put(Self.table, key: Self.key(0), value: [1], epoch: e)
            await #expect(throws: FloeError.self) { try await a.checkpoint(epoch: e, metadata: [:]) }
            #expect(a.isFenced)
        }
        await #expect(throws: FloeError.self) { try await a.collectGarbage() }
        let warnings = logA.entries.filter { $0.level >= .warning }
        #expect(warnings.count == 1, "\(warnings)")
        #expect(warnings.first?.message.description.hasPrefix("writer fenced") == true)
        #expect(warnings.first?.metadata["floe.reason"]?.description.contains("opened the store after this writer") == true)
        try await a.close()
        try await b.close()
    }

    @Test func corruptionWarnsOncePerObjectWithItsOffset() async throws {
        let mem = MemoryObjectStore()
        let w = try await StateStore.open(objectStore: mem, options: Self.options())
        try await Self.fill(w, epochs: 1...1, keys: 200)
        try await w.close()
        let ssts = try await mem.list(prefix: "data/")
        #expect(ssts.count == 1)
        let path = try #require(ssts.first?.path)
        var bytes = try await mem.get(path)
        bytes[8] ^= 0xFF  // inside the first data block
        try await mem.put(path, bytes)

        let log = InMemoryLogHandler()
        let store = try await StateStore.open(objectStore: mem, options: Self.options(log))
        var failures = 0
        for _ in 0..<3 {
            for i in 0..<200 {
                do { _ = try await store.get(Self.table, key: Self.key(i), epoch: 1) } catch let FloeError.corruption(object, _, _) {
                    #expect(object == path)
                    failures += 1
                }
            }
        }
        #expect(failures >= 3)
        let warnings = log.entries.filter { $0.level == .warning }
        #expect(warnings.count == 1, "one warning per damaged object, not per read: \(warnings.count)")
        #expect(warnings.first?.metadata["floe.object"]?.description == path)
        #expect(warnings.first?.metadata["floe.offset"] != nil)
        #expect(log.entries.filter { $0.message.description == "damaged object" && $0.level == .debug }.count == failures - 1)
        try await store.close()
    }

    @Test func commitsSyncsUploadsAndObjectStoreCallsAreMeasured() async throws {
        let metrics = TestMetrics()
        let mem = MemoryObjectStore()
        let store = try await StateStore.open(objectStore: mem, options: Self.options(nil, metrics))
        try await Self.fill(store, epochs: 1...4, keys: 100)
        #expect(try metrics.expectTimer("floe_commit_seconds").values.count == 4)
        #expect(try metrics.expectTimer("floe_sync_seconds").values.count == 4)
        let syncSsts = metrics.counterTotal(label: "floe_uploaded_ssts_total", dimensions: [("by", "sync")])
        #expect(syncSsts == 4)
        let syncBytes = metrics.counterTotal(label: "floe_uploaded_bytes_total", dimensions: [("by", "sync")])
        let dataBytes = try await mem.list(prefix: "data/").reduce(0) { $0 + $1.size }
        #expect(syncBytes == Int64(dataBytes))
        #expect(metrics.counterTotal(label: "floe_object_store_requests_total", dimensions: [("op", "put")]) == 4)
        // Every put is counted in the written bytes; so is every manifest record created.
        #expect(metrics.counterTotal(label: "floe_object_store_written_bytes_total") > syncBytes)
        #expect(metrics.counterTotal(label: "floe_object_store_errors_total", dimensions: [("op", "get")]) == 0)
        #expect(try metrics.expectTimer("floe_object_store_request_seconds", [("op", "create_if_absent")]).values.count
            == Int(metrics.counterTotal(label: "floe_object_store_requests_total", dimensions: [("op", "create_if_absent")])))

        let n = try await store.compactUntilQuiescent()
        #expect(n > 0)
        #expect(metrics.counterTotal(label: "floe_compactions_total") == Int64(n))
        #expect(metrics.counterTotal(label: "floe_compaction_read_bytes_total") > 0)
        let gc = try await store.collectGarbage(graceSeconds: 0)
        #expect(metrics.counterTotal(label: "floe_gc_deleted_objects_total") == Int64(gc.deletedObjects))
        #expect(metrics.counterTotal(label: "floe_gc_passes_total") == 1)
        store.publishMetrics()
        #expect(try metrics.expectGauge("floe_committed_epoch").lastValue == 4)
        #expect(try metrics.expectGauge("floe_l0_sublevels").lastValue == 0)
        try await store.close()
    }

    /// Gets never touch a metric: the caches' own counters are published as one
    /// increment per publish, however many gets ran.
    @Test func cacheCountersArePublishedInAggregate() async throws {
        let metrics = TestMetrics()
        let store = try await StateStore.open(objectStore: MemoryObjectStore(), options: Self.options(nil, metrics))
        try await Self.fill(store, epochs: 1...1, keys: 100)
        store.publishMetrics()
        let before = store.statistics
        let hitsCounter = try metrics.expectCounter("floe_cache_hits_total", [("cache", "block")])
        let incrementsBefore = hitsCounter.values.count
        for _ in 0..<10 { for i in 0..<100 { _ = try await store.get(Self.table, key: Self.key(i), epoch: 1) } }
        store.publishMetrics()
        let after = store.statistics
        #expect(after.blockCacheHits - before.blockCacheHits >= 900)
        #expect(hitsCounter.values.count == incrementsBefore + 1, "one increment for 1,000 gets")
        #expect(hitsCounter.totalValue == Int64(after.blockCacheHits))
        #expect(metrics.counterTotal(label: "floe_cache_misses_total", dimensions: [("cache", "block")]) == Int64(after.blockCacheMisses))
        try await store.close()
    }

    @Test func writeStallsAreTimedAndLogged() async throws {
        let log = InMemoryLogHandler()
        let metrics = TestMetrics()
        var o = Self.options(log, metrics)
        // Background on (stalls need it) with a slowdown from two sub-levels on.
        o.compaction.background = true
        o.compaction.l0CompactionTrigger = 2
        o.compaction.l0SlowdownSubLevels = 2
        o.compaction.l0StopSubLevels = 1000
        o.compaction.intraL0Lane = false
        // Compaction's SST reads are held until the fill ends, so its merges of the
        // overlapping sub-levels cannot bring L0 below the slowdown: commits 3 to 6
        // stall however fast or slow the machine is.
        let slow = ReadCountingStore(MemoryObjectStore())
        slow.holdSstReads()
        let store = try await StateStore.open(objectStore: slow, options: o)
        try await Self.fill(store, epochs: 1...6, keys: 10)
        slow.releaseSstReads()
        let stalls = try metrics.expectTimer("floe_write_stall_seconds").values
        #expect(stalls.count >= 4)
        let logged = log.entries.filter { $0.message.description == "write stall: commit waited for L0 room" }
        #expect(logged.count == stalls.count)
        #expect(logged.allSatisfy { $0.level == .debug })
        #expect(UInt64(stalls.reduce(0, +) / 1000) <= store.statistics.stallMicros + UInt64(stalls.count))
        try await store.close()
    }
}
