import MetricsTestKit
import Testing
@testable import Floe
import FloeTesting

/// An object store over a `MemoryObjectStore` that records every delete call:
/// the paths of single `delete(_:)` calls and the lists of batch `delete(_:)` calls.
final class DeleteCallRecorder: ObjectStore {
    let inner: MemoryObjectStore
    // Sendable: both records are behind this lock.
    private let calls = Lock((singles: [String](), batches: [[String]]()))

    init(_ inner: MemoryObjectStore = MemoryObjectStore()) { self.inner = inner }

    /// Paths of the single deletes so far.
    var singles: [String] { calls.withLock { $0.singles } }
    /// Path lists of the batch deletes so far, in call order.
    var batches: [[String]] { calls.withLock { $0.batches } }

    func put(_ path: String, _ b: [UInt8]) async throws { try await inner.put(path, b) }
    func createIfAbsent(_ path: String, _ b: [UInt8]) async throws -> Bool { try await inner.createIfAbsent(path, b) }
    func get(_ path: String) async throws -> [UInt8] { try await inner.get(path) }
    func get(_ path: String, range: Range<Int>) async throws -> [UInt8] { try await inner.get(path, range: range) }
    func size(_ path: String) async throws -> Int { try await inner.size(path) }
    func delete(_ path: String) async throws {
        calls.withLock { $0.singles.append(path) }
        try await inner.delete(path)
    }
    func delete(_ paths: [String]) async throws {
        calls.withLock { $0.batches.append(paths) }
        try await inner.delete(paths)
    }
    func list(prefix: String) async throws -> [ObjectInfo] { try await inner.list(prefix: prefix) }
}

/// Object GC deletes its doomed objects in batch calls of up to 1,000 paths, and
/// every wrapping store hands a batch on as one batch.
@Suite struct ObjectGCBatchTests {
    static func sst(_ id: UInt64) -> String { "data/" + String(id, radix: 16).leftPadded(16) + ".sst" }

    /// 2,500 orphans past the grace, and SSTs kept for each reason GC keeps one.
    struct Planted {
        let store: DeleteCallRecorder
        let doomed: [String]
        let kept: [String]
        let live: Set<UInt64>, protected: Set<UInt64>, retiredAt: [UInt64: Double]
        let now: Double
    }

    static func plant(orphans: Int = 2_500) async throws -> Planted {
        var objects: [String: [UInt8]] = [:]
        var doomed: [String] = []
        for id in (0..<UInt64(orphans)).map({ $0 + 1 }) {
            doomed.append(sst(id))
            objects[sst(id)] = [UInt8](repeating: UInt8(truncatingIfNeeded: id), count: Int(id % 7) + 1)
        }
        let base = UInt64(1) << 40
        let live = Set((0..<10).map { base + $0 })
        let protected = Set((10..<20).map { base + $0 })
        let young = (20..<30).map { base + $0 }
        // Stamped now; `now` below puts them an hour past a one-minute grace.
        let now = PosixFileSystem.wallClockSeconds() + 3600
        let retiredAt = Dictionary(uniqueKeysWithValues: young.map { ($0, now - 1) })
        var kept = (live.union(protected).union(young)).map(sst)
        kept.append("data/notes.txt") // not an SST name: never GC's
        for path in kept { objects[path] = [9] }
        let store = DeleteCallRecorder(MemoryObjectStore(objects: objects))
        return Planted(store: store, doomed: doomed.sorted(), kept: kept.sorted(), live: live, protected: protected,
                       retiredAt: retiredAt, now: now)
    }

    static func collect(_ p: Planted, failpoints: FailpointRegistry) async throws -> ObjectGC.Report {
        try await ObjectGC(store: p.store, failpoints: failpoints)
            .collect(live: p.live, protected: p.protected, retiredAt: p.retiredAt, graceSeconds: 60, now: p.now)
    }

    @Test func gcDeletesInBatchesOfAThousandAndOnlyTheDoomed() async throws {
        let p = try await Self.plant()
        // Armed far past any hit, so the registry counts the hits.
        let failpoints = FailpointRegistry([.gcBeforeDelete: FailpointAction(.error, skip: 1 << 30),
                                            .gcAfterDelete: FailpointAction(.error, skip: 1 << 30)], parent: nil)
        let r = try await Self.collect(p, failpoints: failpoints)

        #expect(p.store.singles.isEmpty, "no single deletes: \(p.store.singles.prefix(3))")
        #expect(p.store.batches.map(\.count) == [1000, 1000, 500], "ceil(2500 / 1000) batch calls")
        #expect(p.store.batches.flatMap { $0 }.sorted() == p.doomed)
        #expect(failpoints.hits(.gcBeforeDelete) == 3 && failpoints.hits(.gcAfterDelete) == 3, "once per batch")
        #expect(r.deleted.sorted() == p.doomed)
        let bytes: UInt64 = (UInt64(1)...2_500).reduce(0) { sum, id in sum + id % 7 + 1 }
        #expect(r.deletedBytes == bytes)
        #expect(r.kept == p.kept.count - 1, "every kept SST counted; the non-SST name is not GC's")
        #expect(try await p.store.list(prefix: "data/").map(\.path) == p.kept)
    }

    @Test func nothingDoomedMeansNoDeleteCall() async throws {
        let p = try await Self.plant(orphans: 0)
        let failpoints = FailpointRegistry([.gcBeforeDelete: FailpointAction(.error, skip: 1 << 30)], parent: nil)
        let r = try await Self.collect(p, failpoints: failpoints)
        #expect(r.deleted.isEmpty && p.store.batches.isEmpty && p.store.singles.isEmpty)
        #expect(failpoints.hits(.gcBeforeDelete) == 0)
    }

    /// An error after the second batch: the first two batches are gone, the third
    /// never sent; the next pass deletes the rest.
    @Test func aFailedBatchStopsThePassAndTheNextOneFinishes() async throws {
        let p = try await Self.plant()
        let failpoints = FailpointRegistry([.gcAfterDelete: FailpointAction(.error, skip: 1, limit: 1)], parent: nil)
        await #expect(throws: FloeError.io(path: "failpoint:gc.after_delete", reason: "injected")) {
            _ = try await Self.collect(p, failpoints: failpoints)
        }
        #expect(p.store.batches.count == 2)
        let left = Set(try await p.store.list(prefix: "data/").map(\.path))
        #expect(left == Set(p.kept).union(p.doomed.suffix(500)))
        let r = try await Self.collect(p, failpoints: failpoints)
        #expect(r.deleted == Array(p.doomed.suffix(500)))
        #expect(p.store.batches.map(\.count) == [1000, 1000, 500] && p.store.singles.isEmpty)
    }

    /// A store's own GC pass (through its metered object store) deletes compacted-away
    /// SSTs with batch calls only, and the metrics count the call and its objects.
    @Test func storeGCPassUsesBatchDeletes() async throws {
        let recorder = DeleteCallRecorder()
        let metrics = TestMetrics()
        var o = StoreOptions()
        o.compaction.background = false
        o.compaction.l0CompactionTrigger = 2
        o.metricsFactory = metrics
        let s = try await StateStore.open(objectStore: recorder, options: o)
        for e in Epoch(1)...6 {
            for k in 0..<50 { try s.put(TableID(1), key: Array("k\(k)".utf8), value: Array("v\(e)".utf8), epoch: e) }
            try await s.checkpoint(epoch: e, metadata: [:])
        }
        #expect(try await s.compactUntilQuiescent() > 0)
        let gc = try await s.collectGarbage(graceSeconds: 0)
        #expect(gc.deletedObjects > 1)
        #expect(recorder.batches.count == 1 && recorder.batches[0].count == gc.deletedObjects)
        #expect(recorder.singles.filter { $0.hasPrefix("data/") }.isEmpty)
        #expect(metrics.counterTotal(label: "floe_object_store_requests_total", dimensions: [("op", "delete_batch")]) == 1)
        #expect(metrics.counterTotal(label: "floe_object_store_deleted_objects_total")
                == Int64(gc.deletedObjects + recorder.singles.count))
        #expect(try await s.get(TableID(1), key: Array("k7".utf8), epoch: 6) == Array("v6".utf8))
        try await s.close()
    }

    // MARK: - Wrappers forward the batch

    static func paths(_ n: Int) -> [String] { (1...n).map { sst(UInt64($0)) } }

    static func filled(_ paths: [String]) async throws -> DeleteCallRecorder {
        let r = DeleteCallRecorder()
        for p in paths { try await r.put(p, [UInt8](repeating: 7, count: 64)) }
        return r
    }

    @Test func diskCacheDropsEveryBatchDeletedEntryAndForwardsTheBatch() async throws {
        let dir = try ObjectStoreTempDirectory(); defer { dir.remove() }
        let paths = Self.paths(5) + ["manifest/00000000000000000001.delta"]
        let remote = try await Self.filled(paths)
        let cache = try DiskCachedObjectStore(remote: remote, namespace: "test://remote",
                                              options: DiskCacheOptions(directory: dir.path, capacityBytes: 1 << 20))
        for p in paths.prefix(5) { _ = try await cache.get(p, range: 0..<32) }
        #expect(cache.statistics.entries == 5)
        try await cache.delete(paths)
        #expect(cache.statistics.entries == 0, "every deleted SST's entries are dropped")
        #expect(remote.batches == [paths] && remote.singles.isEmpty)
        for p in paths.prefix(5) {
            await #expect(throws: FloeError.objectNotFound(p)) { _ = try await cache.get(p, range: 0..<32) }
        }
        // A new instance over the directory finds no entry file either.
        let reopened = try DiskCachedObjectStore(remote: remote, namespace: "test://remote",
                                                 options: DiskCacheOptions(directory: dir.path, capacityBytes: 1 << 20))
        #expect(reopened.statistics.entries == 0)
    }

    @Test func meteredStoreForwardsTheBatchAndCountsObjects() async throws {
        let paths = Self.paths(3)
        let inner = try await Self.filled(paths)
        let metrics = TestMetrics()
        let metered = MeteredObjectStore(base: inner, metrics: ObjectStoreMetrics(factory: metrics))
        try await metered.delete(paths)
        try await metered.delete(Self.sst(99))
        #expect(inner.batches == [paths] && inner.singles == [Self.sst(99)])
        #expect(metrics.counterTotal(label: "floe_object_store_requests_total", dimensions: [("op", "delete_batch")]) == 1)
        #expect(metrics.counterTotal(label: "floe_object_store_requests_total", dimensions: [("op", "delete")]) == 1)
        #expect(metrics.counterTotal(label: "floe_object_store_deleted_objects_total") == 4)
    }

    @Test func latencyModelCountsARequestPerThousandAndForwardsTheBatch() async throws {
        let paths = Self.paths(2_001)
        let inner = try await Self.filled(paths)
        let model = LatencyModelObjectStore.Model(readLatencySeconds: 0, writeLatencySeconds: 0.001, listLatencySeconds: 0,
                                                  bytesPerSecond: 1e15, maxConcurrentRequests: 4)
        let store = try LatencyModelObjectStore(wrapping: inner, model: model)
        try await store.delete(paths)
        try await store.delete([])
        #expect(inner.batches == [paths] && inner.singles.isEmpty)
        #expect(store.statistics[.delete] == 3)
        #expect(abs(store.statistics.modelledSeconds - 0.003) < 1e-9, "one round trip per 1,000 paths")
        #expect(try await inner.list(prefix: "data/").isEmpty)
    }

    @Test func faultInjectionDecidesOncePerBatchAndForwardsIt() async throws {
        let paths = Self.paths(4)
        let inner = try await Self.filled(paths)
        let store = FaultInjectingObjectStore(wrapping: inner)
        store.addRule(FaultRule(.fail, operations: [.delete], pathContains: String(paths[2].dropFirst(5).prefix(16)), limit: 1))
        await #expect(throws: FloeError.io(path: paths[2], reason: "injected fault: delete")) { try await store.delete(paths) }
        #expect(inner.batches.isEmpty && inner.singles.isEmpty, "a failed call never reaches the inner store")
        try await store.delete(paths)
        #expect(store.operationCount(.delete) == 2)
        #expect(inner.batches == [paths] && inner.singles.isEmpty)
        #expect(try await inner.list(prefix: "data/").isEmpty)
    }

    /// The protocol's default, for stores without a batch request: one delete per
    /// path, missing ones included, and an error stops it.
    @Test func defaultBatchDeletesOneByOne() async throws {
        let mem = MemoryObjectStore()
        for p in Self.paths(3) { try await mem.put(p, [1]) }
        try await mem.delete(Self.paths(4))
        #expect(try await mem.list(prefix: "").isEmpty)
        try await mem.put("a", [1])
        await #expect(throws: FloeError.self) { try await mem.delete(["a", "../bad", "b"]) }
    }
}

extension String {
    /// Left-padded with zeros to `width` characters.
    fileprivate func leftPadded(_ width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
