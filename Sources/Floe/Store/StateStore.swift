import CoreMetrics
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An epoch-versioned LSM state store.
///
/// Writes carry an epoch. An epoch is sealed (no more writes), synced (built
/// into SSTs in the object store) and committed (a manifest delta appended with
/// create-if-absent). Readers see committed epochs whole, never part of one; the
/// writing process also reads its own uncommitted epochs. There is no WAL: after
/// a crash, `open` reads the manifest alone and serves reads from the object store.
///
/// Thread safety: all methods may be called concurrently. Commits are applied in
/// epoch order; concurrent `commit` calls queue.
public final class StateStore: Sendable {
    /// Mutable state of the write path and the current version, under one mutex.
    struct State {
        var version: Version
        var open: [MutableMemtable] = []
        /// The size of the last epoch sealed: new memtables reserve it.
        var lastSealedShape = MutableMemtable.Shape()
        var sealed: [SealedEpoch] = []
        var latestWritten: Epoch = 0
        var sealedThrough: Epoch = 0
        var memoryUsed = 0
        var inFlight = 0
        var fenced: String?
        var closed = false
        /// SSTs dropped from the version, with when (seconds since 1970): GC waits a grace period.
        var retired: [UInt64: Double] = [:]
        /// SSTs uploaded by syncs whose commit has not happened yet: GC must keep them.
        var uncommittedSynced: Set<UInt64> = []
        /// Inputs of running compactions, so concurrent picks do not collide.
        var compactionBusy: Set<UInt64> = []
        var compactionError: FloeError?
        /// The error of each background lane whose last attempt failed (see `setCompactionError`).
        var laneErrors: [Int: FloeError] = [:]
        var worstStallMicros: UInt64 = 0
        var stallMicros: UInt64 = 0
        var gcDeletedObjects: UInt64 = 0
        var gcDeletedBytes: UInt64 = 0
        /// Spilled runs uploaded by this handle (`spillOpenEpochs`).
        var spills: UInt64 = 0
        /// Sequence of the newest manifest checkpoint known to exist (0: none).
        var checkpointSequence: UInt64 = 0
        /// A checkpoint whose commit step failed: its sync result and metadata. Its
        /// epochs stay claimed by that result (the caller never saw it), so the next
        /// `checkpoint` must commit it before anything later can commit.
        var unfinishedCheckpoint: (result: SyncResult, metadata: [String: [UInt8]])?
        /// Parts of unsealed epochs moved out of memory to SSTs (`spillOpenEpochs`),
        /// oldest first: read by this writer, committed with their epoch's sync.
        var spilled: [SpilledRun] = []
        /// Memtables taken out of `open` by a spill whose upload has not finished (or
        /// failed: the next spill or sync uploads them), oldest first.
        var spilling: [FrozenMemtable] = []
        /// The sync result of the last `commit` that failed without installing its epoch.
        /// Its delta may have landed all the same; a retry of it is recognised even after
        /// a compaction commit caught up over that delta and installed it.
        var failedCommit: SyncResult?
    }

    struct SealedEpoch {
        var mem: FrozenMemtable
        var claimed: Bool
    }

    /// One spill of one epoch: sorted, non-overlapping SSTs, uploaded and kept from GC
    /// (`uncommittedSynced`) until its epoch commits.
    struct SpilledRun {
        var epoch: Epoch
        var ssts: [SstInfo]
    }

    let objectStore: any ObjectStore
    public let options: StoreOptions
    let reader: SstReader
    /// Buffers of uploaded SSTs, reused by the next flush or compaction output.
    let sstBuffers = SstBufferPool()
    /// Arenas and entry lists of committed epochs, reused by the next epochs' memtables.
    let memtableRecycling: MemtableRecycling
    let manifest: ManifestStore
    let pins = PinRegistry()
    let picker: CompactionPicker
    /// The manifest sequence of this writer's open record; stamps its deltas and SST ids.
    let writerID: UInt64
    let state: Lock<State>
    /// Runs one spill at a time (`spillOpenEpochs`).
    let spillLock = AsyncLock()
    let commitLock = AsyncLock()
    /// Low 32 bits of the next SST id of this session.
    let sstCounter = Atomic<UInt64>(0)
    let worker = Lock<[Task<Void, Never>]>([])
    /// Monotonic microseconds of the last commit, for idle compaction.
    let lastCommitMicros = Atomic<UInt64>(0)
    /// `state.version`, for gets of committed epochs without the store's lock.
    let published: PublishedVersion
    /// Set by `close` (as `state.closed`), read by gets that skip the store's lock.
    let closedForGets = Atomic<Bool>(false)
    /// Times a background lane found nothing to do and slept (tests check the idle rate).
    let idlePolls = Atomic<UInt64>(0)
    /// SSTs prefix scans left unread: ruled out by their prefix filter, or by key range.
    let prefixFilterSkips = Atomic<UInt64>(0)
    let prefixRangeSkips = Atomic<UInt64>(0)
    /// When this handle opened (monotonic): the settle period counts from here too.
    let openedMicros = StateStore.monotonicMicros()
    /// `options.failpoints`, then those of `FLOE_FAILPOINTS`.
    let failpoints: FailpointRegistry
    /// What this handle may do: write, follow the manifest read-only, or read one named checkpoint.
    let mode: Mode
    /// `options.logger` with `floe.session` set (see `StoreOptions.logger`).
    let logger: Logger
    /// The `floe_*` metrics (see `StoreMetrics`).
    let metrics: StoreMetrics
    /// Objects whose corruption was logged already: a warning each, not one per read.
    let reportedDamage = Lock<Set<String>>([])

    enum Mode: Sendable, Equatable {
        case writer
        /// Read-only; `refresh` moves it to newer committed versions. Its lease
        /// (`ReaderLease`, id `reader`) keeps its SSTs from every GC.
        case follower(reader: UInt64)
        /// Read-only at the version a named checkpoint pins; never moves.
        case checkpoint(String)
    }

    private init(objectStore: any ObjectStore, options: StoreOptions, version: Version, checkpointSequence: UInt64,
                 failpoints: FailpointRegistry, metrics: StoreMetrics, mode: Mode = .writer) {
        self.objectStore = objectStore
        self.metrics = metrics
        var logger = options.logger
        switch mode {
        case .writer: logger[metadataKey: "floe.session"] = .int(version.writerID)
        case let .follower(reader): logger[metadataKey: "floe.reader"] = .int(reader)
        case let .checkpoint(name): logger[metadataKey: "floe.checkpoint"] = .string(name)
        }
        self.logger = logger
        self.mode = mode
        self.failpoints = failpoints
        self.options = options
        memtableRecycling = MemtableRecycling(maxBufferBytes: max(options.memtableBudgetBytes / 2, 1 << 20))
        self.reader = SstReader(store: objectStore,
                                blockCache: ShardedLRUCache(capacityBytes: options.blockCacheBytes),
                                metaCache: SstReader.metaCache(capacityBytes: options.metaCacheBytes),
                                filterCache: SstReader.metaCache(capacityBytes: options.metaCacheBytes / 4),
                                pinBudget: MetaPinBudget(limit: options.metaCacheBytes),
                                scanReadAheadBytes: options.scanReadAheadBytes)
        self.manifest = ManifestStore(store: objectStore, logger: logger)
        self.writerID = version.writerID
        self.picker = CompactionPicker(options: options.compaction, sst: options.sst)
        self.published = PublishedVersion(version)
        self.state = Lock(State(version: version, latestWritten: version.committedEpoch, sealedThrough: version.committedEpoch,
                                 checkpointSequence: checkpointSequence))
    }

    // MARK: open

    /// Opens (or creates) the store in a local directory: the embedded default.
    /// Throws `FloeError.notAFloeStore` if `path` is a file or a non-empty directory without a manifest.
    public static func open(path: String, options: StoreOptions = .init()) async throws -> StateStore {
        try await open(objectStore: LocalObjectStore(root: path, create: options.createIfMissing), options: options)
    }

    /// Opens (or creates) the store in `objectStore`. Loads the newest manifest
    /// checkpoint and the deltas after it (never a data file), then appends an
    /// `open` record that fences every earlier writer of this store.
    public static func open(objectStore: any ObjectStore, options: StoreOptions = .init()) async throws -> StateStore {
        try validate(options)
        let t0 = monotonicMicros()
        let metrics = StoreMetrics(factory: options.metricsFactory ?? MetricsSystem.factory)
        let objectStore = MeteredObjectStore.wrap(objectStore, metrics.objectStore)
        let failpoints = try FailpointRegistry.forStore(options.failpoints)
        let manifest = ManifestStore(store: objectStore, logger: options.logger)
        var attempt = 0
        var version: Version
        var checkpointSequence: UInt64 = 0
        while true {
            let base: Version
            if let loaded = try await manifest.load() {
                base = loaded.version
                checkpointSequence = loaded.checkpoint
            } else {
                guard options.createIfMissing else { throw FloeError.notAFloeStore("no manifest and createIfMissing is false") }
                let stray = try await objectStore.list(prefix: "")
                guard stray.isEmpty else {
                    throw FloeError.notAFloeStore("\(stray.count) objects but no manifest (first: \(stray[0].path))")
                }
                base = .empty
            }
            do {
                version = try await manifest.commit(from: base, make: { base in
                    VersionDelta(sequence: base.sequence + 1, kind: .open, writerID: base.sequence + 1, committedEpoch: base.committedEpoch,
                                 safeEpoch: base.safeEpoch, timestampMillis: nowMillis())
                }, onNewer: { _ in nil }, lost: { FloeError.fenced("could not append an open record: \($0)") })
                break
            } catch FloeError.fenced(let why) where attempt < 3 {
                // The store moved on past two checkpoints between the load and the append
                // (another writer committing fast): load again.
                attempt += 1
                options.logger.debug("open record lost the manifest race; loading the manifest again",
                                     metadata: ["floe.attempt": .int(attempt), "floe.reason": .string(why)])
            }
        }
        let store = StateStore(objectStore: objectStore, options: options, version: version,
                               checkpointSequence: checkpointSequence, failpoints: failpoints, metrics: metrics)
        store.logger.debug("store opened", metadata: [
            "floe.epoch": .int(version.committedEpoch), "floe.manifest.sequence": .int(version.sequence),
            "floe.manifest.checkpoint": .int(checkpointSequence), "floe.l0.sublevels": .int(version.l0.count),
            "floe.ssts": .int(version.allSsts.count), "floe.open.ms": millisSince(t0, now: monotonicMicros()),
        ])
        // A store reopened again and again (a crash loop) commits nothing, so only
        // this keeps the deltas the next open must read bounded.
        await store.writeCheckpointIfDue(version)
        if options.compaction.background { store.startBackgroundWork() }
        return store
    }

    /// Opens the store in a local directory as a read-only follower.
    /// See `openReadOnly(objectStore:options:)`.
    public static func openReadOnly(path: String, options: StoreOptions = .init()) async throws -> StateStore {
        try await openReadOnly(objectStore: LocalObjectStore(root: path, create: false), options: options)
    }

    /// Opens the store as a read-only follower: loads the manifest like `open` but
    /// appends nothing, so the live writer (a running pipeline) is not fenced. It
    /// reads the committed epochs of the version it loaded, and of newer ones after
    /// each `refresh()`. Writes, seals, syncs, commits and checkpoints throw
    /// `fenced("opened read-only")`; it runs no compaction or GC.
    ///
    /// GC protection: it writes a reader lease naming the SSTs of its version
    /// (`readers/<id>.lease`), renewed every third of `compaction.readerLeaseSeconds`
    /// and rewritten by `refresh`; every GC (the writer's, a standalone compactor's)
    /// keeps those SSTs while the lease is younger than that. `close()` removes it.
    /// Throws `notAFloeStore` when the object store holds no store, object store errors.
    public static func openReadOnly(objectStore: any ObjectStore, options: StoreOptions = .init()) async throws -> StateStore {
        try validate(options)
        let t0 = monotonicMicros()
        let metrics = StoreMetrics(factory: options.metricsFactory ?? MetricsSystem.factory)
        let objectStore = MeteredObjectStore.wrap(objectStore, metrics.objectStore)
        let manifest = ManifestStore(store: objectStore, logger: options.logger)
        guard let loaded = try await manifest.load() else { throw FloeError.notAFloeStore("no manifest") }
        var rng = SystemRandomNumberGenerator()
        let reader = rng.next() | 1
        let version = try await leaseNewest(reader, from: loaded.version, manifest: manifest, objectStore: objectStore)
        let store = StateStore(objectStore: objectStore, options: options, version: version,
                               checkpointSequence: loaded.checkpoint, failpoints: try FailpointRegistry.forStore(options.failpoints),
                               metrics: metrics, mode: .follower(reader: reader))
        store.state.withLock { $0.fenced = "opened read-only" }
        store.logger.debug("store opened read-only", metadata: [
            "floe.epoch": .int(version.committedEpoch), "floe.manifest.sequence": .int(version.sequence),
            "floe.open.ms": millisSince(t0, now: monotonicMicros()),
        ])
        store.startLeaseRenewal()
        return store
    }

    /// Opens, read-only, the version the named checkpoint `name` pins (see
    /// `createCheckpoint`). It reads the checkpoint's epoch; `refresh` is refused.
    /// Throws `checkpointNotFound`, `invalidArgument` for a malformed name,
    /// `notAFloeStore`, `corruption` when the checkpoint's stored version does not
    /// match its manifest record, object store errors.
    public static func openReadOnly(path: String, checkpoint name: String, options: StoreOptions = .init()) async throws -> StateStore {
        try await openReadOnly(objectStore: LocalObjectStore(root: path, create: false), checkpoint: name, options: options)
    }

    /// `openReadOnly(path:checkpoint:options:)` on any object store.
    public static func openReadOnly(objectStore: any ObjectStore, checkpoint name: String, options: StoreOptions = .init()) async throws -> StateStore {
        try validate(options)
        let metrics = StoreMetrics(factory: options.metricsFactory ?? MetricsSystem.factory)
        let objectStore = MeteredObjectStore.wrap(objectStore, metrics.objectStore)
        let (_, v) = try await loadNamedCheckpoint(objectStore, name)
        let store = StateStore(objectStore: objectStore, options: options, version: v, checkpointSequence: 0,
                               failpoints: try FailpointRegistry.forStore(options.failpoints), metrics: metrics, mode: .checkpoint(name))
        store.logger.debug("store opened at a named checkpoint", metadata: [
            "floe.epoch": .int(v.committedEpoch), "floe.manifest.sequence": .int(v.sequence),
        ])
        store.state.withLock { $0.fenced = "opened read-only at checkpoint \(name)" }
        return store
    }

    /// Closes the store. Uncommitted epochs are discarded, exactly as in a crash;
    /// committed data is untouched. Later calls throw `closed`.
    public func close() async throws {
        state.withLock { s in
            s.closed = true
            closedForGets.store(true, ordering: .relaxed)
            s.open.removeAll()
            s.sealed.removeAll()
            s.spilled.removeAll()
            s.spilling.removeAll()
            s.unfinishedCheckpoint = nil
            s.memoryUsed = 0
        }
        let tasks = worker.withLock { w -> [Task<Void, Never>] in
            defer { w = [] }
            return w
        }
        for t in tasks { t.cancel() }
        for t in tasks { await t.value }
        if case let .follower(id) = mode { try? await objectStore.delete(ReaderLease.path(id)) }
        await reader.metadata.stopWarming()
        sstBuffers.trim()
        memtableRecycling.trim()
        publishMetrics(force: true)
        logger.debug("store closed", metadata: ["floe.epoch": .int(currentVersion.committedEpoch)])
    }

    /// Publishes the aggregated metrics now (see `StoreMetrics`): cache hits, misses
    /// and evictions since the last publish, and the shape gauges. The store does
    /// this by itself at most once a second (after commits, from its background
    /// worker) and at `close`; call it to see current figures sooner, or when the
    /// store runs without background work and commits nothing.
    public func publishMetrics() { publishMetrics(force: true) }

    func publishMetrics(force: Bool) {
        guard metrics.claimPublish(now: StateStore.monotonicMicros(), force: force) else { return }
        let (v, memory) = state.withLock { ($0.version, $0.memoryUsed) }
        metrics.publish(caches: [reader.blockCache.stats, reader.metadata.metas.stats, reader.metadata.filters.stats], version: v,
                        debt: picker.debtBytes(v), memtable: memory)
    }

    static func nowMillis() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }
}
