import CoreMetrics
import Synchronization

/// The `floe_*` metrics of one store (swift-metrics), and how each is fed.
///
/// The hot paths stay free of metric calls: a get or a scanned row never touches a
/// metric. What gets count already lives in counters the caches keep under their
/// shard locks (`ShardedLRUCache.stats`); `publish` reads those cumulative counters
/// and adds the difference since its last call to the swift-metrics counters. It
/// runs at most once a second: after a commit, from the first background lane
/// (so a read-only or idle store publishes too) and at `close` (always). A store
/// without background work and without commits publishes when the caller runs
/// `publishMetrics()`.
///
/// Per event, never per key or row:
/// - `floe_commit_seconds` (timer): one `commit`, the write stall and the manifest append included.
/// - `floe_sync_seconds` (timer): one `sync` (build and upload).
/// - `floe_uploaded_ssts_total`, `floe_uploaded_bytes_total` (counters, `by` = `sync`,
///   `compaction`, `spill`): SSTs put to the object store.
/// - `floe_write_stall_seconds` (timer): each commit that waited for L0 room.
/// - `floe_compactions_total` (counter, `kind`), `floe_compaction_seconds` (timer),
///   `floe_compaction_read_bytes_total`, `floe_compaction_written_bytes_total`:
///   each compaction this process ran.
/// - `floe_gc_deleted_objects_total`, `floe_gc_deleted_bytes_total`, `floe_gc_passes_total`.
/// - `floe_object_store_requests_total`, `floe_object_store_errors_total` (counters),
///   `floe_object_store_request_seconds` (timer), all with `op` = `put`, `get`,
///   `get_range`, `size`, `delete`, `delete_batch`, `list`, `create_if_absent`;
///   `floe_object_store_read_bytes_total`, `floe_object_store_written_bytes_total`; and
///   `floe_object_store_deleted_objects_total` (paths of successful `delete` and
///   `delete_batch` calls, so a batch of 1,000 is one request here and 1,000 objects there).
///   Recorded per object-store call (`MeteredObjectStore`): an I/O, never a cached read.
///
/// Published (at most once a second, see above):
/// - `floe_cache_hits_total`, `floe_cache_misses_total`, `floe_cache_evictions_total`
///   (counters) and `floe_cache_bytes` (gauge), with `cache` = `block`, `meta`, `filter`.
/// - `floe_l0_sublevels`, `floe_compaction_debt_bytes` (`CompactionPicker.debtBytes`),
///   `floe_memtable_bytes`, `floe_committed_epoch`, `floe_manifest_sequence`, `floe_sst_bytes` (gauges).
/// - `floe_ingested_bytes_total`, `floe_flush_written_bytes_total` (counters): the
///   version's cumulative byte counters, counted from this handle's open.
final class StoreMetrics: Sendable {
    let commitSeconds: CoreMetrics.Timer
    let syncSeconds: CoreMetrics.Timer
    let stallSeconds: CoreMetrics.Timer
    let compactionSeconds: CoreMetrics.Timer
    let compactionRead: Counter
    let compactionWritten: Counter
    let gcDeletedObjects: Counter
    let gcDeletedBytes: Counter
    let gcPasses: Counter
    let l0SubLevels: Gauge
    let debtBytes: Gauge
    let memtableBytes: Gauge
    let committedEpoch: Gauge
    let manifestSequence: Gauge
    let sstBytes: Gauge
    let ingested: Counter
    let flushWritten: Counter
    let objectStore: ObjectStoreMetrics
    private let uploads: [UploadKind: (ssts: Counter, bytes: Counter)]
    private let caches: [(name: String, hits: Counter, misses: Counter, evictions: Counter, bytes: Gauge)]
    private let compactionKinds: Lock<[String: Counter]>
    private let factory: any MetricsFactory
    /// Cumulative counters as of the last publish; nil until the first.
    private let last = Lock<Published?>(nil)
    /// Monotonic microseconds of the last publish (0: never).
    private let lastPublish = Atomic<UInt64>(0)

    enum UploadKind: String, CaseIterable, Sendable {
        case sync, compaction, spill
    }

    struct Published {
        var caches: [(hits: UInt64, misses: UInt64, evictions: UInt64)]
        var ingested: UInt64
        var flushWritten: UInt64
    }

    init(factory: any MetricsFactory) {
        self.factory = factory
        func counter(_ l: String, _ d: [(String, String)] = []) -> Counter { Counter(label: l, dimensions: d, factory: factory) }
        func gauge(_ l: String, _ d: [(String, String)] = []) -> Gauge { Gauge(label: l, dimensions: d, factory: factory) }
        func timer(_ l: String) -> CoreMetrics.Timer { CoreMetrics.Timer(label: l, dimensions: [], factory: factory) }
        commitSeconds = timer("floe_commit_seconds")
        syncSeconds = timer("floe_sync_seconds")
        stallSeconds = timer("floe_write_stall_seconds")
        compactionSeconds = timer("floe_compaction_seconds")
        compactionRead = counter("floe_compaction_read_bytes_total")
        compactionWritten = counter("floe_compaction_written_bytes_total")
        gcDeletedObjects = counter("floe_gc_deleted_objects_total")
        gcDeletedBytes = counter("floe_gc_deleted_bytes_total")
        gcPasses = counter("floe_gc_passes_total")
        l0SubLevels = gauge("floe_l0_sublevels")
        debtBytes = gauge("floe_compaction_debt_bytes")
        memtableBytes = gauge("floe_memtable_bytes")
        committedEpoch = gauge("floe_committed_epoch")
        manifestSequence = gauge("floe_manifest_sequence")
        sstBytes = gauge("floe_sst_bytes")
        ingested = counter("floe_ingested_bytes_total")
        flushWritten = counter("floe_flush_written_bytes_total")
        objectStore = ObjectStoreMetrics(factory: factory)
        var up: [UploadKind: (ssts: Counter, bytes: Counter)] = [:]
        for k in UploadKind.allCases {
            up[k] = (counter("floe_uploaded_ssts_total", [("by", k.rawValue)]), counter("floe_uploaded_bytes_total", [("by", k.rawValue)]))
        }
        uploads = up
        caches = ["block", "meta", "filter"].map { name in
            let d = [("cache", name)]
            return (name, counter("floe_cache_hits_total", d), counter("floe_cache_misses_total", d),
                    counter("floe_cache_evictions_total", d), gauge("floe_cache_bytes", d))
        }
        compactionKinds = Lock([:])
    }

    /// SSTs put to the object store by a sync, a compaction or a spill.
    func uploaded(_ kind: UploadKind, ssts: Int, bytes: UInt64) {
        guard ssts > 0, let c = uploads[kind] else { return }
        c.ssts.increment(by: ssts)
        c.bytes.increment(by: Int64(clamping: bytes))
    }

    /// One compaction this process ran.
    func compaction(kind: String, micros: UInt64, read: UInt64, written: UInt64) {
        let c = compactionKinds.withLock { k in
            if let c = k[kind] { return c }
            let c = Counter(label: "floe_compactions_total", dimensions: [("kind", kind)], factory: factory)
            k[kind] = c
            return c
        }
        c.increment()
        compactionSeconds.recordMicroseconds(micros)
        compactionRead.increment(by: Int64(clamping: read))
        compactionWritten.increment(by: Int64(clamping: written))
    }

    /// Whether a publish is due: `force`, or none in the last second. Claims it.
    func claimPublish(now: UInt64, force: Bool) -> Bool {
        let prev = lastPublish.load(ordering: .relaxed)
        if !force && prev != 0 && now >= prev && now - prev < 1_000_000 { return false }
        return lastPublish.compareExchange(expected: prev, desired: now, ordering: .relaxed).exchanged || force
    }

    /// Adds the difference of the cumulative counters since the last publish and sets the gauges.
    func publish(caches stats: [CacheStats], version v: Version, debt: UInt64, memtable: Int) {
        let cum = v.stats
        let now = Published(caches: stats.map { ($0.hits, $0.misses, $0.evictions) }, ingested: cum.ingestedBytes,
                            flushWritten: cum.flushWrittenBytes)
        // The first publish only sets the baseline of the byte counters: the version's
        // counters span the store's whole life, this process counts from its open.
        let before: Published = last.withLock { l in
            defer { l = now }
            return l ?? Published(caches: stats.map { _ in (0, 0, 0) }, ingested: cum.ingestedBytes, flushWritten: cum.flushWrittenBytes)
        }
        // Clamped: `Counter.increment` of an integer traps above Int64.max.
        func delta(_ a: UInt64, _ b: UInt64) -> Int64 { Int64(clamping: a >= b ? a - b : 0) }
        for (i, c) in caches.enumerated() where i < stats.count {
            c.hits.increment(by: delta(now.caches[i].hits, before.caches[i].hits))
            c.misses.increment(by: delta(now.caches[i].misses, before.caches[i].misses))
            c.evictions.increment(by: delta(now.caches[i].evictions, before.caches[i].evictions))
            c.bytes.record(Double(stats[i].usageBytes))
        }
        ingested.increment(by: delta(now.ingested, before.ingested))
        flushWritten.increment(by: delta(now.flushWritten, before.flushWritten))
        // As Double: `Recorder.record` of an integer traps above Int64.max, and an epoch may be
        // any UInt64 (the largest one included).
        l0SubLevels.record(Double(v.l0.count))
        debtBytes.record(Double(debt))
        memtableBytes.record(Double(memtable))
        committedEpoch.record(Double(v.committedEpoch))
        manifestSequence.record(Double(v.sequence))
        sstBytes.record(Double(v.allSsts.reduce(0) { $0 + $1.fileSize }))
    }
}

/// Per-operation metrics of object-store calls (see `MeteredObjectStore`).
final class ObjectStoreMetrics: Sendable {
    struct Op: Sendable {
        let requests: Counter
        let errors: Counter
        let seconds: CoreMetrics.Timer
    }

    let put: Op, createIfAbsent: Op, get: Op, getRange: Op, size: Op, delete: Op, deleteBatch: Op, list: Op
    let readBytes: Counter
    let writtenBytes: Counter
    /// Paths deleted by successful `delete` and `delete_batch` calls.
    let deletedObjects: Counter

    init(factory: any MetricsFactory) {
        func op(_ name: String) -> Op {
            let d = [("op", name)]
            return Op(requests: Counter(label: "floe_object_store_requests_total", dimensions: d, factory: factory),
                      errors: Counter(label: "floe_object_store_errors_total", dimensions: d, factory: factory),
                      seconds: CoreMetrics.Timer(label: "floe_object_store_request_seconds", dimensions: d, factory: factory))
        }
        put = op("put"); createIfAbsent = op("create_if_absent"); get = op("get"); getRange = op("get_range")
        size = op("size"); delete = op("delete"); deleteBatch = op("delete_batch"); list = op("list")
        readBytes = Counter(label: "floe_object_store_read_bytes_total", factory: factory)
        writtenBytes = Counter(label: "floe_object_store_written_bytes_total", factory: factory)
        deletedObjects = Counter(label: "floe_object_store_deleted_objects_total", factory: factory)
    }
}
