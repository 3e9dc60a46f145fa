import CoreMetrics
import Logging
import Synchronization

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

    private static func validate(_ o: StoreOptions) throws {
        guard o.sst.blockSize >= 256, o.sst.blockSize <= 64 << 20 else { throw FloeError.invalidArgument("sst.blockSize \(o.sst.blockSize) outside 256 B...64 MiB") }
        guard o.sst.restartInterval >= 1, o.sst.restartInterval <= 1024 else { throw FloeError.invalidArgument("sst.restartInterval \(o.sst.restartInterval) outside 1...1024") }
        guard o.sst.bloomBitsPerKey >= 0, o.sst.bloomBitsPerKey <= 64 else { throw FloeError.invalidArgument("sst.bloomBitsPerKey \(o.sst.bloomBitsPerKey) outside 0...64") }
        for (t, n) in o.sst.prefixFilterLengths where !(1...1024).contains(n) {
            throw FloeError.invalidArgument("prefix filter length \(n) of table \(t) outside 1...1024")
        }
        guard o.sst.targetFileSize >= 4096 else { throw FloeError.invalidArgument("sst.targetFileSize \(o.sst.targetFileSize) below 4096") }
        guard o.blockCacheBytes >= 0, o.metaCacheBytes >= 0 else { throw FloeError.invalidArgument("cache sizes must not be negative") }
        guard o.scanReadAheadBytes >= 16 << 10 else { throw FloeError.invalidArgument("scan read-ahead must be at least 16 KiB, not \(o.scanReadAheadBytes) bytes") }
        guard o.memtableBudgetBytes > 0 else { throw FloeError.invalidArgument("memtableBudgetBytes must be positive") }
        guard o.manifestCheckpointInterval >= 1 else { throw FloeError.invalidArgument("manifestCheckpointInterval must be at least 1") }
        let c = o.compaction
        guard c.maxLevel >= 1, c.maxLevel <= 32 else { throw FloeError.invalidArgument("compaction.maxLevel \(c.maxLevel) outside 1...32") }
        guard c.levelSizeMultiplier >= 2 else { throw FloeError.invalidArgument("compaction.levelSizeMultiplier must be at least 2") }
        guard c.l0CompactionTrigger >= 1, c.l0SlowdownSubLevels >= c.l0CompactionTrigger, c.l0StopSubLevels >= c.l0SlowdownSubLevels else {
            throw FloeError.invalidArgument("compaction needs 1 <= l0CompactionTrigger <= l0SlowdownSubLevels <= l0StopSubLevels")
        }
        guard c.targetFileSize >= 4096, c.baseLevelBytes >= 4096 else { throw FloeError.invalidArgument("compaction sizes must be at least 4096 bytes") }
        guard c.maxConcurrentTasks >= 1 else { throw FloeError.invalidArgument("compaction.maxConcurrentTasks must be at least 1") }
        guard c.gcGraceSeconds >= 0, c.gcIntervalSeconds > 0 else { throw FloeError.invalidArgument("GC grace must be >= 0 and interval > 0") }
        guard (0...19).contains(c.threadNice) else { throw FloeError.invalidArgument("compaction.threadNice must be in 0...19") }
        guard c.settleSeconds >= 0, c.settleSeconds.isFinite else { throw FloeError.invalidArgument("settleSeconds must be finite and >= 0") }
    }

    // MARK: write path

    private static func checkWritable(_ s: State, _ epoch: Epoch) throws {
        if s.closed { throw FloeError.closed }
        if let f = s.fenced { throw FloeError.fenced(f) }
        if epoch <= s.version.committedEpoch { throw FloeError.epochCommitted(epoch: epoch, committed: s.version.committedEpoch) }
        if epoch <= s.sealedThrough { throw FloeError.epochSealed(epoch: epoch, sealed: s.sealedThrough) }
    }

    /// The open memtable of `epoch`, created in epoch order if missing. Any unsealed
    /// epoch takes writes, also below the newest one written: the operators of a
    /// pipeline pass a barrier at different times, so one may still write epoch E
    /// while another has moved on to E + 1 (as Hummock's shared buffer allows).
    private static func memtableIndex(_ s: inout State, _ epoch: Epoch) -> Int {
        if let last = s.open.last, last.epoch == epoch { return s.open.count - 1 }
        var i = s.open.count
        while i > 0, s.open[i - 1].epoch > epoch { i -= 1 }
        if i > 0, s.open[i - 1].epoch == epoch { return i - 1 }
        s.open.insert(MutableMemtable(epoch: epoch), at: i)
        s.latestWritten = max(s.latestWritten, epoch)
        return i
    }

    /// The longest key a write accepts: 16 MiB.
    public static let maxKeyBytes = 16 << 20
    /// The longest value a write accepts: 1 GiB. Memtable entries hold lengths in 32
    /// bits, and a block holding one entry (compressed whole) must stay below 2 GiB.
    public static let maxValueBytes = 1 << 30

    /// Throws `invalidArgument` for a key or value longer than the limits above.
    static func checkEntrySize(key: Int, value: Int) throws {
        if key > maxKeyBytes { throw FloeError.invalidArgument("key of \(key) bytes is longer than the limit of \(maxKeyBytes) bytes") }
        if value > maxValueBytes {
            throw FloeError.invalidArgument("value of \(value) bytes is longer than the limit of \(maxValueBytes) bytes")
        }
    }

    /// Writes `value` for `key` in `table` at `epoch`.
    /// Throws `invalidArgument` for a key over `maxKeyBytes` or a value over
    /// `maxValueBytes`, `epochCommitted`, `epochSealed` (any epoch above the committed
    /// one that is not sealed takes writes, in any order), `memoryBudgetExceeded` (once the memtable budget is spent),
    /// `fenced` or `closed`; a rejected write changes nothing.
    public func put(_ table: TableID, key: [UInt8], value: [UInt8], epoch: Epoch) throws {
        try apply(table.raw, key, Block.kindPut, value, epoch)
    }

    /// Deletes `key` in `table` at `epoch` (writes a tombstone). Errors as for `put`.
    public func delete(_ table: TableID, key: [UInt8], epoch: Epoch) throws {
        try apply(table.raw, key, Block.kindDelete, [], epoch)
    }

    private func apply(_ table: UInt32, _ key: [UInt8], _ kind: UInt8, _ value: [UInt8], _ epoch: Epoch) throws {
        try StateStore.checkEntrySize(key: key.count, value: value.count)
        let budget = options.memtableBudgetBytes
        try state.withLock { s in
            try StateStore.checkWritable(s, epoch)
            // Refused once the budget is spent, not when this write would cross it: that is
            // the test `waitForWriteBudget` waits on, so "wait, then retry" cannot spin on a
            // write that never fits. The write that crosses the budget overshoots it by its size.
            if s.memoryUsed >= budget { throw FloeError.memoryBudgetExceeded(used: s.memoryUsed, budget: budget) }
            let i = StateStore.memtableIndex(&s, epoch)
            s.memoryUsed += key.withUnsafeBytes { k in
                value.withUnsafeBytes { v in s.open[i].insert(table: table, key: k, kind: kind, value: v) }
            }
        }
    }

    /// Applies every operation of `batch` at `epoch`, all or nothing. Errors as for `put`.
    public func write(_ batch: WriteBatch, epoch: Epoch) throws {
        guard !batch.isEmpty else { return }
        for op in batch.ops { try StateStore.checkEntrySize(key: op.keyLength, value: op.valueLength) }
        let budget = options.memtableBudgetBytes
        try state.withLock { s in
            try StateStore.checkWritable(s, epoch)
            // As for a single write: refused once the budget is spent.
            if s.memoryUsed >= budget { throw FloeError.memoryBudgetExceeded(used: s.memoryUsed, budget: budget) }
            let i = StateStore.memtableIndex(&s, epoch)
            var added = 0
            batch.arena.withUnsafeBytes { a in
                for op in batch.ops {
                    let k = UnsafeRawBufferPointer(rebasing: a[op.keyOffset..<(op.keyOffset + op.keyLength)])
                    let vs = op.keyOffset + op.keyLength
                    let v = UnsafeRawBufferPointer(rebasing: a[vs..<(vs + op.valueLength)])
                    added += s.open[i].insert(table: op.table, key: k, kind: op.kind, value: v)
                }
            }
            s.memoryUsed += added
        }
    }

    /// Sets a watermark of `table` at `epoch`: from `epoch` on, reads of `table` no
    /// longer see any key whose bytes after the first `prefixLength` sort below `key`
    /// (see `TableWatermark`), and compaction drops those keys once no retained
    /// epoch below `epoch` can be read. It commits with `epoch`, like a write; a
    /// second call for the same table and epoch replaces the first. Reads at
    /// epochs below `epoch` (snapshots, the retention window) still see the keys.
    ///
    /// Throws `invalidArgument` when the watermark would fall below one of an
    /// earlier epoch (or rise above one of a later epoch) of the table, changes the
    /// table's prefix length, or is negative or too long; errors as for `put`
    /// otherwise. A rejected call changes nothing.
    public func setTableWatermark(_ table: TableID, key: [UInt8], prefixLength: Int = 0, epoch: Epoch) throws {
        guard prefixLength >= 0, prefixLength <= StateStore.maxKeyBytes else {
            throw FloeError.invalidArgument("watermark prefix length \(prefixLength) outside 0...\(StateStore.maxKeyBytes)")
        }
        try StateStore.checkEntrySize(key: key.count, value: 0)
        let w = TableWatermark(table: table, prefixLength: prefixLength, key: key, epoch: epoch)
        try state.withLock { s in
            try StateStore.checkWritable(s, epoch)
            var others = s.version.watermarks.filter { $0.tableRaw == table.raw }
            for m in s.sealed { others += m.mem.watermarks.filter { $0.tableRaw == table.raw } }
            for m in s.open where m.epoch != epoch { others += m.watermarks.filter { $0.tableRaw == table.raw } }
            for o in others {
                if o.prefixLength != prefixLength {
                    throw FloeError.invalidArgument("\(table) has watermarks with prefix length \(o.prefixLength), not \(prefixLength)")
                }
                let c = o.key.withUnsafeBytes { a in key.withUnsafeBytes { FullKey.compareBytes(a, $0) } }
                if (o.epoch < epoch && c > 0) || (o.epoch > epoch && c < 0) {
                    throw FloeError.invalidArgument("watermark of \(table) at epoch \(epoch) does not rise monotonically with the one at epoch \(o.epoch)")
                }
            }
            let i = StateStore.memtableIndex(&s, epoch)
            s.open[i].setWatermark(w)
        }
    }

    /// Seals every epoch <= `epoch`: no more writes to them. Sealing the already
    /// sealed epoch again is a no-op. Throws `epochSealed` for an epoch below the
    /// sealed one, `epochCommitted`, `fenced` or `closed`.
    public func seal(epoch: Epoch) throws {
        try state.withLock { s in
            if s.closed { throw FloeError.closed }
            if let f = s.fenced { throw FloeError.fenced(f) }
            if epoch == s.sealedThrough && epoch > s.version.committedEpoch { return }
            if epoch <= s.version.committedEpoch { throw FloeError.epochCommitted(epoch: epoch, committed: s.version.committedEpoch) }
            if epoch < s.sealedThrough { throw FloeError.epochSealed(epoch: epoch, sealed: s.sealedThrough) }
            while let first = s.open.first, first.epoch <= epoch {
                let frozen = s.open[0].frozenCopy()
                s.open.removeFirst()
                s.memoryUsed += frozen.memoryBytes - first.memoryBytes
                s.sealed.append(SealedEpoch(mem: frozen, claimed: false))
            }
            s.sealedThrough = epoch
            s.latestWritten = max(s.latestWritten, epoch)
        }
    }

    /// Builds SSTs from every sealed, not yet synced epoch <= `epoch` and uploads them.
    /// May run while later epochs are written. On failure nothing is committed and
    /// the epochs can be synced again. An epoch part of which was spilled
    /// (`waitForWriteBudget`) contributes its spilled runs as sub-levels of their own
    /// below the rest of it. Throws `epochNotSealed`, object store errors, `fenced`, `closed`.
    public func sync(epoch: Epoch) async throws -> SyncResult {
        let t0 = ContinuousClock.now
        try await finishSpills(upTo: epoch)
        let (mems, spilled): ([FrozenMemtable], [SpilledRun]) = try state.withLock { s in
            if s.closed { throw FloeError.closed }
            if let f = s.fenced { throw FloeError.fenced(f) }
            guard epoch <= s.sealedThrough else { throw FloeError.epochNotSealed(epoch) }
            var mems: [FrozenMemtable] = []
            for i in s.sealed.indices where s.sealed[i].mem.epoch <= epoch && !s.sealed[i].claimed {
                s.sealed[i].claimed = true
                mems.append(s.sealed[i].mem)
            }
            let epochs = Set(mems.map(\.epoch))
            s.inFlight += 1
            return (mems, s.spilled.filter { epochs.contains($0.epoch) })
        }
        var failedUploads: [UInt64] = []
        do {
            // Without spills, one sub-level for all the epochs; with them, per epoch (in
            // order) its spilled runs, then the rest: a newer sub-level must hold only
            // newer versions of a key, and an epoch's spilled runs are older than its
            // memtable but newer than every lower epoch.
            let groups: [[FrozenMemtable]] = spilled.isEmpty ? [mems] : mems.map { [$0] }
            var subLevels: [[SstInfo]] = []
            for group in groups {
                if let e = group.first?.epoch, !spilled.isEmpty {
                    subLevels += spilled.filter { $0.epoch == e }.map(\.ssts)
                }
                var outputs = MemtableFlush.build(group, options: options.sst, buffers: sstBuffers) { nextSstID() }
                let infos = outputs.map(\.info)
                failedUploads += infos.map(\.id)
                state.withLock { s in for info in infos { s.uncommittedSynced.insert(info.id) } }
                for i in outputs.indices {
                    try failpoints.hit(.syncBeforeSstPut)
                    try await objectStore.put(infos[i].path, outputs[i].bytes)
                    try failpoints.hit(.syncAfterSstPut)
                    // Moved out of `outputs`, so the pool gets the only reference.
                    sstBuffers.give(outputs[i].takeBytes())
                }
                subLevels.append(infos)
            }
            state.withLock { $0.inFlight -= 1 }
            let built = subLevels.joined().filter { f in !spilled.contains { $0.ssts.contains { $0.id == f.id } } }
            metrics.uploaded(.sync, ssts: built.count, bytes: built.reduce(0) { $0 + $1.fileSize })
            metrics.syncSeconds.recordNanoseconds((ContinuousClock.now - t0).nanoseconds)
            return SyncResult(epoch: epoch, epochs: mems.map(\.epoch), subLevels: subLevels, watermarks: mems.flatMap(\.watermarks))
        } catch {
            state.withLock { s in
                s.inFlight -= 1
                s.uncommittedSynced.subtract(failedUploads)
                let ids = Set(mems.map { ObjectIdentifier($0) })
                for i in s.sealed.indices where ids.contains(ObjectIdentifier(s.sealed[i].mem)) { s.sealed[i].claimed = false }
            }
            throw error
        }
    }

    /// Atomically makes `sync`'s epochs visible as committed epoch `epoch`, with
    /// `metadata` merged (key by key) into the committed metadata.
    ///
    /// Commits apply in epoch order. Throws `commitOutOfOrder` when `epoch` is not
    /// above the committed epoch or `sync` does not cover every sealed epoch up to
    /// it; `fenced` when another writer took the manifest; object store errors
    /// (the commit may then be retried: a commit that did land is recognised, also
    /// when a compaction commit installed it before the retry). A commit that
    /// succeeded is not repeated: calling it again throws `commitOutOfOrder`.
    public func commit(epoch: Epoch, _ sync: SyncResult, metadata: [String: [UInt8]]) async throws {
        // On failure the epochs stay claimed by `sync`: retry with the same result
        // (checkpoint keeps its own result for that). A landed delta is recognised.
        // In flight for its whole span, the wait for the commit lock included: a
        // `waitForWriteBudget` meanwhile must wait for the memory this commit frees.
        state.withLock { $0.inFlight += 1 }
        defer { state.withLock { $0.inFlight -= 1 } }
        let t0 = ContinuousClock.now
        let stalled = try await waitForL0Room()
        try await commitLock.withLock { try await commitLocked(epoch: epoch, sync, metadata: metadata, stallMicros: stalled) }
        metrics.commitSeconds.recordNanoseconds((ContinuousClock.now - t0).nanoseconds)
        publishMetrics(force: false)
    }

    private func commitLocked(epoch: Epoch, _ sync: SyncResult, metadata: [String: [UInt8]], stallMicros: UInt64) async throws {
        let identity = VersionDelta.commitIdentity(writerID: writerID, epoch: epoch, ssts: sync.ssts)
        // A retry whose failed attempt's record landed (acknowledgement lost) and was then
        // installed by a later catch-up: the commit is done. The version names its last
        // commit, so this holds however long ago that record was pruned.
        let retriedAndInstalled = state.withLock { s in
            s.failedCommit == sync && s.version.committedEpoch == epoch && s.version.lastCommit == identity
        }
        if retriedAndInstalled {
            state.withLock { s in
                s.failedCommit = nil
                for f in sync.ssts { s.uncommittedSynced.remove(f.id) }
            }
            return
        }
        let base: Version = try state.withLock { s in
            if s.closed { throw FloeError.closed }
            if let f = s.fenced { throw FloeError.fenced(f) }
            let committed = s.version.committedEpoch
            guard epoch > committed else { throw FloeError.commitOutOfOrder("epoch \(epoch) is not above the committed epoch \(committed)") }
            guard sync.epoch == epoch else { throw FloeError.commitOutOfOrder("sync result is for epoch \(sync.epoch), not \(epoch)") }
            guard epoch <= s.sealedThrough else { throw FloeError.epochNotSealed(epoch) }
            if let bad = sync.epochs.first(where: { $0 <= committed || $0 > epoch }) {
                throw FloeError.commitOutOfOrder("sync result holds epoch \(bad) outside (\(committed), \(epoch)]")
            }
            let covered = Set(sync.epochs)
            if let missing = s.sealed.first(where: { $0.mem.epoch <= epoch && !covered.contains($0.mem.epoch) }) {
                throw FloeError.commitOutOfOrder("sealed epoch \(missing.mem.epoch) is not in this sync result; commit its own sync first")
            }
            s.inFlight += 1
            return s.version
        }
        defer {
            state.withLock { s in
                s.inFlight -= 1
                if s.version.committedEpoch < epoch { s.failedCommit = sync } else if s.failedCommit == sync { s.failedCommit = nil }
            }
        }
        try failpoints.hit(.commitBeforeManifest)
        let version = try await manifest.commit(from: base, make: { [self] base in
            // A version caught up past another writer's open record: that writer owns the
            // store now, so this one must not commit on top of it.
            guard base.writerID == writerID else { throw fence("writer \(base.writerID) opened the store after this writer (\(writerID))") }
            var d = VersionDelta(sequence: base.sequence + 1, kind: .commit, writerID: writerID, committedEpoch: epoch,
                                 safeEpoch: watermark(base), newSubLevel: sync.subLevels.last ?? [], metadata: metadata,
                                 watermarks: sync.watermarks, timestampMillis: StateStore.nowMillis(), stallMicros: stallMicros)
            d.olderSubLevels = Array(sync.subLevels.dropLast())
            return d
        }, onNewer: { [self] newer in
            // Another process appended first: a compaction or register record is rebased
            // over; an open record fences this writer; this very commit (an earlier attempt
            // whose acknowledgement was lost) is adopted.
            install(newer)
            guard newer.writerID == writerID else { throw fence("writer \(newer.writerID) opened the store after this writer (\(writerID))") }
            if newer.committedEpoch == epoch && newer.lastCommit == identity { return newer }
            if newer.committedEpoch >= epoch {
                throw FloeError.commitOutOfOrder("epoch \(newer.committedEpoch) was already committed by this writer")
            }
            return nil
        }, lost: { [self] why in fence(why) })
        try failpoints.hit(.commitAfterManifest)
        install(version)
        lastCommitMicros.store(StateStore.monotonicMicros(), ordering: .relaxed)
        state.withLock { s in for f in sync.ssts { s.uncommittedSynced.remove(f.id) } }
        await writeCheckpointIfDue(version)
    }

    /// Marks this writer fenced and returns the error to throw.
    func fence(_ why: String) -> FloeError {
        let first = state.withLock { s in
            guard s.fenced == nil else { return false }
            s.fenced = why
            return true
        }
        if first { logFenced(why) }
        return .fenced(why)
    }

    /// The one warning a store logs for being fenced: once, when it learns it.
    func logFenced(_ why: String) {
        logger.warning("writer fenced: another process owns the store now; writes, commits, compaction and GC stop",
                       metadata: ["floe.reason": .string(why), "floe.manifest.sequence": .int(currentVersion.sequence)])
    }

    /// Logs damage (`corruption`, `unsupportedFormat`) found in an object, once per
    /// object and handle at warning (later reads of it at debug), and returns `error`.
    @discardableResult
    func noteDamage(_ error: any Error) -> any Error {
        guard let e = error as? FloeError else { return error }
        let object: String, offset: Int
        switch e {
        case let .corruption(o, off, _): object = o; offset = off
        case let .unsupportedFormat(o, _): object = o; offset = 0
        case let .objectNotFound(path):
            logger.debug("object not found", metadata: ["floe.object": .string(path)])
            return error
        default: return error
        }
        let first = reportedDamage.withLock { $0.insert(object).inserted }
        let meta: Logger.Metadata = ["floe.object": .string(object), "floe.offset": .int(offset), "floe.error": .string(e.description)]
        if first { logger.warning("damaged object", metadata: meta) } else { logger.debug("damaged object", metadata: meta) }
        return error
    }

    /// Writes a manifest checkpoint of `v` once `manifestCheckpointInterval` deltas
    /// follow the newest checkpoint. Best effort: a missing checkpoint only lengthens the next open.
    func writeCheckpointIfDue(_ v: Version) async {
        // Due by distance from the newest checkpoint, not at multiples of the interval: a
        // multiple that fell on an open record (or whose best-effort write failed) skipped
        // a whole interval, so a store reopened again and again never wrote one and the
        // deltas read on open grew without bound.
        let newest = state.withLock { $0.checkpointSequence }
        guard v.sequence >= newest + options.manifestCheckpointInterval else { return }
        let written: Void? = try? await {
            try await manifest.writeCheckpoint(v)
            try failpoints.hit(.checkpointAfterWrite)
        }()
        if written != nil {
            state.withLock { $0.checkpointSequence = max($0.checkpointSequence, v.sequence) }
            // Best effort too: what a failed prune leaves, the next one deletes.
            let pruned = try? await manifest.prune()
            logger.trace("manifest checkpoint written", metadata: ["floe.manifest.sequence": .int(v.sequence),
                                                                    "floe.manifest.pruned": .int(pruned ?? 0)])
        }
    }

    /// Makes `v` current, drops the memtables it now covers and retires SSTs it no longer holds.
    func install(_ v: Version) {
        let (gone, newlyFenced): ([UInt64], String?) = state.withLock { s in
            var newlyFenced: String?
            guard v.sequence > s.version.sequence else { return ([], nil) }
            if v.writerID != writerID && s.fenced == nil {
                s.fenced = "writer \(v.writerID) opened the store after this writer (\(writerID))"
                newlyFenced = s.fenced
            }
            let now = PosixFileSystem.wallClockSeconds()
            let kept = Set(v.allSsts.map(\.id))
            let gone = s.version.allSsts.map(\.id).filter { !kept.contains($0) }
            for id in gone { s.retired[id] = now }
            s.version = v
            published.publish(v)
            while let first = s.sealed.first, first.mem.epoch <= v.committedEpoch {
                s.memoryUsed -= first.mem.memoryBytes
                s.sealed.removeFirst()
            }
            s.spilled.removeAll { $0.epoch <= v.committedEpoch }
            s.sealedThrough = max(s.sealedThrough, v.committedEpoch)
            s.latestWritten = max(s.latestWritten, v.committedEpoch)
            return (gone, newlyFenced)
        }
        for id in gone { reader.evict(id) }
        if let newlyFenced { logFenced(newlyFenced) }
    }

    /// Seals, syncs and commits `epoch` in one call.
    ///
    /// If the commit step fails (an object store error, a lost acknowledgement),
    /// the uploaded SSTs are kept for a retry: the next `checkpoint` call (for
    /// this epoch or a later one) first commits them, exactly once, with this
    /// call's metadata. A retry for this epoch returns at once if the failed
    /// commit's delta had landed and was installed meanwhile (a compaction
    /// commit catches up over it). Errors as for `seal`, `sync` and `commit`.
    public func checkpoint(epoch: Epoch, metadata: [String: [UInt8]]) async throws {
        // In flight for its whole span: between its sync and its commit neither is
        // running, and a concurrent `waitForWriteBudget` would give up in that gap
        // although this call is about to free the memory.
        state.withLock { $0.inFlight += 1 }
        defer { state.withLock { $0.inFlight -= 1 } }
        // Without this, a failed commit would strand its epochs: they stay claimed by a
        // SyncResult only this method saw, so no later sync covers them and every later
        // commit is refused as out of order. Retrying that very result also lets the
        // manifest recognise a delta that landed with its acknowledgement lost.
        let (unfinished, landed) = state.withLock { s -> ((result: SyncResult, metadata: [String: [UInt8]])?, Bool) in
            // Its delta landed and was adopted meanwhile (by a compaction or a commit that
            // rebased over it): it is committed, and retrying this very epoch is done.
            if let u = s.unfinishedCheckpoint, u.result.epoch <= s.version.committedEpoch {
                s.unfinishedCheckpoint = nil
                for f in u.result.ssts { s.uncommittedSynced.remove(f.id) }
                return (nil, u.result.epoch == epoch)
            }
            return (s.unfinishedCheckpoint, false)
        }
        if landed { return }
        if let unfinished {
            try await commit(epoch: unfinished.result.epoch, unfinished.result, metadata: unfinished.metadata)
            state.withLock { $0.unfinishedCheckpoint = nil }
            if epoch == unfinished.result.epoch { return }
        }
        try seal(epoch: epoch)
        let r = try await sync(epoch: epoch)
        do {
            try await commit(epoch: epoch, r, metadata: metadata)
        } catch {
            state.withLock { $0.unfinishedCheckpoint = (r, metadata) }
            throw error
        }
    }

    /// Waits until the memtable budget has room again (writes are accepted while the
    /// memory in use is below it). Returns at once if it has. When it is spent and no
    /// sync, commit or checkpoint is running to free it, spills the memtables of the
    /// unsealed epochs to SSTs (`StoreOptions.spillOpenEpochs`, see `spillOpenEpochs`)
    /// and returns; throws `memoryBudgetExceeded` when that is off or frees nothing
    /// (the memory is held by sealed epochs: sync and commit them), object store errors
    /// from the spill (nothing is lost: the data stays in memory).
    public func waitForWriteBudget() async throws {
        while true {
            let (used, inFlight, closed) = state.withLock { ($0.memoryUsed, $0.inFlight, $0.closed) }
            if closed { throw FloeError.closed }
            if used < options.memtableBudgetBytes { return }
            if inFlight == 0 {
                // Nothing running will free memory: move the unsealed epochs out of it.
                if options.spillOpenEpochs, try await spillOpenEpochs() { continue }
                throw FloeError.memoryBudgetExceeded(used: used, budget: options.memtableBudgetBytes)
            }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    // MARK: read path

    /// Checks that `epoch` is readable and captures the version and own memtables a read needs.
    /// The version is pinned under the store's lock, where it is captured: see `scan`.
    func readView(_ epoch: Epoch, table: UInt32) throws
        -> (Version, [FrozenMemtable], pin: VersionPin, hidden: TableWatermark?, spilled: [[SstInfo]]) {
        try state.withLock { s in
            if s.closed { throw FloeError.closed }
            let v = s.version
            try checkRetained(epoch, v)
            let pin = VersionPin(version: v, epoch: epoch, registry: pins)
            let hidden = StateStore.watermark(s, table, at: epoch)
            guard epoch > v.committedEpoch else { return (v, [], pin, hidden, []) }
            var mems: [FrozenMemtable] = []
            for i in s.open.indices.reversed() where s.open[i].epoch <= epoch { mems.append(s.open[i].frozenCopy()) }
            for m in s.sealed.reversed() where m.mem.epoch <= epoch { mems.append(m.mem) }
            // Older parts of the same epochs after their newer parts: the merge takes the
            // first of equal versions, so newer sources go first.
            for m in s.spilling.reversed() where m.epoch <= epoch { mems.append(m) }
            let spilled = s.spilled.reversed().filter { $0.epoch <= epoch }.map(\.ssts)
            return (v, mems, pin, hidden, spilled)
        }
    }

    /// The watermark of `table` a read at `epoch` applies: the committed ones and,
    /// above the committed epoch, this writer's own uncommitted ones.
    static func watermark(_ s: State, _ table: UInt32, at epoch: Epoch) -> TableWatermark? {
        let committed = s.version.watermark(table, at: epoch)
        guard epoch > s.version.committedEpoch else { return committed }
        var best = committed
        func consider(_ list: [TableWatermark], _ e: Epoch) {
            guard e <= epoch else { return }
            for w in list where w.tableRaw == table && (best == nil || w.epoch >= best!.epoch) { best = w }
        }
        for m in s.sealed { consider(m.mem.watermarks, m.mem.epoch) }
        for m in s.open { consider(m.watermarks, m.epoch) }
        return best
    }

    /// The oldest epoch of `v` readable without a snapshot pin.
    @inline(__always)
    func oldestRetained(_ v: Version) -> Epoch {
        let committed = v.committedEpoch, retention = options.retentionEpochs
        return max(v.safeEpoch, committed >= retention ? committed - retention : 0)
    }

    func checkRetained(_ epoch: Epoch, _ v: Version) throws {
        let committed = v.committedEpoch
        guard epoch < committed else { return }
        let oldest = oldestRetained(v)
        if epoch < v.safeEpoch || (epoch < oldest && !pins.isPinned(epoch)) {
            throw FloeError.epochNotRetained(epoch: epoch, oldestRetained: oldest)
        }
    }

    /// The value of `key` in `table` at `epoch`, or nil if absent or deleted.
    /// At or below the committed epoch it sees committed data only; above it, this
    /// writer also sees its own uncommitted writes at epochs <= `epoch`.
    /// Throws `epochNotRetained` below the retained window, `corruption` or
    /// `objectNotFound` for damaged or missing SSTs, `closed`.
    /// Runs on the caller's executor (`nonisolated(nonsending)`): a get from the main
    /// actor or any other actor does not hop off it, and suspends only to read an
    /// object that no cache holds.
    nonisolated(nonsending) public func get(_ table: TableID, key: [UInt8], epoch: Epoch) async throws -> [UInt8]? {
        // A committed epoch in the retained window (nearly every get): no store lock, and
        // everything cached answers without an async call.
        if !closedForGets.load(ordering: .relaxed) {
            // `reader` is not copied into a local: a copy retains each of its caches, and
            // those shared counters written by every get would serialize the readers.
            let fast: CommittedGet = published.withCurrent { v in
                guard epoch <= v.committedEpoch, epoch >= oldestRetained(v) else {
                    return .locked
                }
                if let w = v.watermark(table.raw, at: epoch), w.hides(key) { return .answer(nil) }
                let probe = PointReader.probeCached(reader: reader, version: v, memtables: [], table: table, key: key, epoch: epoch)
                if case let .answer(value) = probe { return .answer(value) }
                return .fetch(probe, v)
            }
            switch fast {
            case let .answer(value): return value
            case let .fetch(probe, v): return try await finishGet(probe, v, table, key, epoch)
            case .locked: break
            }
        }
        // Own uncommitted epochs: look up the mutable memtables in place (no freeze for point reads).
        let view: (Version, [FrozenMemtable], [UInt8]??)? = try state.withLock { s in
            if s.closed { throw FloeError.closed }
            let v = s.version
            try checkRetained(epoch, v)
            // Spilled parts of own epochs: the first hit on the point-read path need not be
            // the newest version any more (an epoch's spilled run lies below a lower epoch's
            // memtable), so the read goes through the merge, which orders by epoch.
            if epoch > v.committedEpoch, s.spilled.contains(where: { $0.epoch <= epoch }) || s.spilling.contains(where: { $0.epoch <= epoch }) {
                return nil
            }
            if let w = StateStore.watermark(s, table.raw, at: epoch), w.hides(key) { return (v, [], .some(nil)) }
            guard epoch > v.committedEpoch, !(s.open.isEmpty && s.sealed.isEmpty) else { return (v, [], nil) }
            for m in s.open.reversed() where m.epoch <= epoch {
                if let e = key.withUnsafeBytes({ m.lookup(table: table.raw, key: $0) }) {
                    return (v, [], .some(e.kind == Block.kindDelete ? nil : m.value(of: e)))
                }
            }
            return (v, s.sealed.reversed().filter { $0.mem.epoch <= epoch }.map(\.mem), nil)
        }
        guard let view else {
            var successor = key
            successor.append(0)
            var rows = try await scan(table, from: key, to: successor, epoch: epoch).makeAsyncIterator()
            return try await rows.next()?.value
        }
        if let hit = view.2 { return hit }
        // Everything cached: answer without another async call.
        let probe = PointReader.probeCached(reader: reader, version: view.0, memtables: view.1, table: table, key: key, epoch: epoch)
        if case let .answer(value) = probe { return value }
        return try await finishGet(probe, view.0, table, key, epoch)
    }

    /// Reads what `probe` left to fetch from `v`. A get holds no pin: an SST of `v`
    /// can be dropped by a compaction and deleted by an object GC pass with a grace
    /// shorter than the read (an explicit `collectGarbage(graceSeconds: 0)`) while
    /// the get runs; a standalone compactor's GC can delete an SST this writer has
    /// not yet seen retired. An SST found missing after the store's version (or,
    /// read again, the manifest) moved on is that, not damage: the get starts over
    /// on the newer version, which holds the same data at `epoch` (or throws
    /// `epochNotRetained` if `epoch` left the window). Missing from the newest
    /// version, it is `objectNotFound`.
    func finishGet(_ probe: PointReader.Probe, _ v: Version, _ table: TableID, _ key: [UInt8], _ epoch: Epoch) async throws -> [UInt8]? {
        do {
            return try await PointReader.finish(probe, reader: reader, version: v, table: table, key: key, epoch: epoch)
        } catch let e as FloeError where e.isDamage {
            throw noteDamage(e)
        } catch let FloeError.objectNotFound(path) {
            if currentVersion.sequence == v.sequence {
                // Another process (a standalone compactor) may have retired the SST and its GC
                // deleted it: follow the manifest, and read again only if it moved.
                guard let newer = try? await followManifest(), newer.sequence != v.sequence else { throw FloeError.objectNotFound(path) }
            }
            return try await get(table, key: key, epoch: epoch)
        }
    }

    /// Where a get of a committed epoch got without the store's lock.
    private enum CommittedGet: Sendable {
        case answer([UInt8]?)
        /// A file's meta or block must be read: the rest runs async, on this version.
        case fetch(PointReader.Probe, Version)
        /// Not a committed epoch of the retained window: the get takes the store's lock.
        case locked
    }

    /// Rows of `table` with `from <= key < to` at `epoch`, in key order (nil bounds
    /// are open). Streams: see `ScanResult`. Visibility and errors as for `get`.
    /// Runs on the caller's executor, like `get`.
    nonisolated(nonsending) public func scan(_ table: TableID, from: [UInt8]?, to: [UInt8]?, epoch: Epoch) async throws -> ScanResult {
        // The pin keeps the scanned SSTs safe from object GC while the scan lives. It is
        // taken under the lock that captures the version: pinned after it, a compaction
        // could retire the version's SSTs and a GC pass (zero grace) delete them in between.
        // Under the lock, a GC pass either sees the pin (it reads the pins after its own
        // look at the state) or captured a version no newer than this one, whose SSTs it
        // keeps as live, in flight, or written after its start.
        let (v, mems, pin, hidden, spilled) = try readView(epoch, table: table.raw)
        return ScanResult(reader: reader, table: table.raw, from: from ?? [], to: to, epoch: epoch,
                          memtables: mems, runs: spilled + v.l0 + v.levels, pin: pin, hidden: hidden)
    }

    /// The newest committed epoch.
    public var committedEpoch: Epoch { state.withLock { $0.version.committedEpoch } }

    /// Caller metadata as of the committed epoch (each commit's keys merged over the previous ones).
    public var committedMetadata: [String: [UInt8]] { state.withLock { $0.version.metadata } }

    /// Pins the committed version at `epoch` (<= the committed epoch and retained)
    /// until the snapshot is released. Throws `invalidArgument` above the committed
    /// epoch, `epochNotRetained` below the window, `closed`.
    public func snapshot(epoch: Epoch) throws -> Snapshot {
        let pin: VersionPin = try state.withLock { s in
            if s.closed { throw FloeError.closed }
            guard epoch <= s.version.committedEpoch else {
                throw FloeError.invalidArgument("snapshot epoch \(epoch) is above the committed epoch \(s.version.committedEpoch)")
            }
            try checkRetained(epoch, s.version)
            return VersionPin(version: s.version, epoch: epoch, registry: pins)
        }
        return Snapshot(pin: pin, reader: reader)
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
        await reader.filterWarmer.stop()
        sstBuffers.trim()
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
        metrics.publish(caches: [reader.blockCache.stats, reader.metaCache.stats, reader.filterCache.stats], version: v,
                        debt: picker.debtBytes(v), memtable: memory)
    }

    // MARK: introspection

    /// Whether another writer has fenced this one.
    public var isFenced: Bool { state.withLock { $0.fenced != nil } }

    var currentVersion: Version { state.withLock { $0.version } }

    /// Counters for tools and benchmarks.
    public var statistics: StoreStatistics {
        let (v, s) = state.withLock { ($0.version, $0) }
        let b = reader.blockCache.stats, m = reader.metaCache.stats
        let c = v.stats
        var out = StoreStatistics(
            committedEpoch: v.committedEpoch, manifestSequence: v.sequence,
            l0SubLevels: v.l0.count, l0Bytes: v.l0.reduce(0) { $0 + CompactionPicker.size($1) },
            levelFileCounts: v.levels.map(\.count), levelBytes: v.levels.map { CompactionPicker.size($0) },
            sstCount: v.allSsts.count, sstBytes: v.allSsts.reduce(0) { $0 + $1.fileSize },
            sstRawBytes: v.allSsts.reduce(0) { $0 + $1.rawBytes },
            memtableBytes: s.memoryUsed,
            blockCacheHits: b.hits, blockCacheMisses: b.misses, blockCacheEvictions: b.evictions, blockCacheBytes: b.usageBytes,
            metaCacheHits: m.hits, metaCacheMisses: m.misses,
            ingestedBytes: c.ingestedBytes, flushWrittenBytes: c.flushWrittenBytes,
            compactionReadBytes: c.compactionReadBytes, compactionWrittenBytes: c.compactionWrittenBytes,
            compactions: c.compactions, stallMicros: s.stallMicros, worstStallMicros: s.worstStallMicros,
            gcDeletedObjects: s.gcDeletedObjects, gcDeletedBytes: s.gcDeletedBytes, spills: s.spills,
            prefixFilterSkippedFiles: prefixFilterSkips.load(ordering: .relaxed),
            prefixRangeSkippedFiles: prefixRangeSkips.load(ordering: .relaxed),
            compactionError: s.compactionError?.description)
        if let disk = (MeteredObjectStore.unwrap(objectStore) as? DiskCachedObjectStore)?.statistics {
            out.diskCacheHits = disk.hits
            out.diskCacheMisses = disk.misses
            out.diskCacheEvictions = disk.evictions
            out.diskCacheCorruptDropped = disk.corruptDropped
            out.diskCacheBytes = disk.bytes
        }
        return out
    }

    static func nowMillis() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }
}

/// A point-in-time summary of a store's shape, I/O and caches.
public struct StoreStatistics: Sendable, Equatable {
    public var committedEpoch: Epoch
    public var manifestSequence: UInt64
    public var l0SubLevels: Int
    public var l0Bytes: UInt64
    /// Files and bytes of L1, L2, ...
    public var levelFileCounts: [Int]
    public var levelBytes: [UInt64]
    public var sstCount: Int
    public var sstBytes: UInt64
    /// Uncompressed bytes of every stored version: encoded key (user key + 12) + value + 1.
    public var sstRawBytes: UInt64
    public var memtableBytes: Int
    public var blockCacheHits: UInt64
    public var blockCacheMisses: UInt64
    public var blockCacheEvictions: UInt64
    public var blockCacheBytes: Int
    public var metaCacheHits: UInt64
    public var metaCacheMisses: UInt64
    /// Uncompressed bytes committed by writers since the store was created.
    public var ingestedBytes: UInt64
    public var flushWrittenBytes: UInt64
    public var compactionReadBytes: UInt64
    public var compactionWrittenBytes: UInt64
    public var compactions: UInt64
    /// Commit time spent in write stalls in this process, total and worst single commit.
    public var stallMicros: UInt64
    public var worstStallMicros: UInt64
    public var gcDeletedObjects: UInt64
    public var gcDeletedBytes: UInt64
    /// Memtables of unsealed epochs spilled to SSTs by this handle (`waitForWriteBudget`).
    public var spills: UInt64
    /// SSTs that prefix scans of this handle did not read because their prefix
    /// filter ruled the prefix out, and because their key range cannot hold it.
    public var prefixFilterSkippedFiles: UInt64
    public var prefixRangeSkippedFiles: UInt64
    /// The last background compaction error, if the last attempt failed.
    public var compactionError: String?
    /// The local disk cache's counters when the store was opened over a
    /// `DiskCachedObjectStore` (`DiskCacheStatistics`); zero otherwise.
    public var diskCacheHits: UInt64 = 0
    public var diskCacheMisses: UInt64 = 0
    public var diskCacheEvictions: UInt64 = 0
    public var diskCacheCorruptDropped: UInt64 = 0
    public var diskCacheBytes: Int = 0

    /// (flush + compaction bytes written) / bytes ingested.
    public var writeAmplification: Double {
        ingestedBytes == 0 ? 0 : Double(flushWrittenBytes + compactionWrittenBytes) / Double(ingestedBytes)
    }
}

#if canImport(Glibc)
import Glibc
#endif
