import CoreMetrics
import Logging
import Synchronization

/// A compactor that needs nothing but the object store: `floe compact` runs one
/// in its own process, tests drive one step by step. It registers a session in
/// the manifest (for unique SST names; it fences nobody), picks from the newest
/// version, uses the watermark the writer published (`safeEpoch`), and commits
/// through create-if-absent, rebasing over concurrent commits.
///
/// The session holds a lease (`SessionLease`), renewed in the background every
/// `compaction.compactorLeaseRenewSeconds`. A GC pass that finds the lease older
/// than its grace ends the session with an `expire` record before it deletes the
/// session's uncommitted outputs; from then on this compactor's commits are
/// refused with `staleCompaction`, and `attach` must be called again.
package final class Compactor: Sendable {
    let objectStore: any ObjectStore
    let options: StoreOptions
    let manifest: ManifestStore
    let reader: SstReader
    let picker: CompactionPicker
    let failpoints: FailpointRegistry
    /// Output buffers reused from one task's upload to the next.
    let buffers = SstBufferPool()
    /// Manifest sequence of this session's `register` record: the high 32 bits of its SST ids and the writer id of its deltas.
    package let sessionID: UInt64
    private let counter = Atomic<UInt64>(0)
    /// SSTs seen leaving the version, for `collectGarbage`.
    private let retired: Lock<RetiredObjects>
    /// Outputs of running tasks, uploaded but not committed: this session's GC keeps them.
    private let inFlight = Lock<Set<UInt64>>([])
    private let heartbeat = Lock<Task<Void, Never>?>(nil)
    /// `options.logger` with `floe.session` (this compactor's) set.
    let logger: Logger
    /// The `floe_*` metrics this compactor feeds (compactions, GC, object-store
    /// calls, and the shape gauges of the versions it reads; see `StoreMetrics`).
    let metrics: StoreMetrics

    private init(objectStore: any ObjectStore, options: StoreOptions, sessionID: UInt64, version: Version,
                 failpoints: FailpointRegistry, metrics: StoreMetrics) {
        self.objectStore = objectStore
        self.failpoints = failpoints
        self.options = options
        self.metrics = metrics
        var logger = options.logger
        logger[metadataKey: "floe.session"] = .int(sessionID)
        self.logger = logger
        self.manifest = ManifestStore(store: objectStore, logger: logger)
        self.reader = SstReader(store: objectStore,
                                blockCache: ShardedLRUCache(capacityBytes: 0),
                                metaCache: SstReader.metaCache(capacityBytes: options.metaCacheBytes))
        self.picker = CompactionPicker(options: options.compaction, sst: options.sst)
        self.sessionID = sessionID
        self.retired = Lock(RetiredObjects(version))
    }

    /// Registers a compactor session on an existing store. The session is a
    /// `register` record, which writers rebase over: attaching never fences a writer.
    /// Throws `notAFloeStore` if the object store holds no manifest.
    package static func attach(objectStore: any ObjectStore, options: StoreOptions = .init()) async throws -> Compactor {
        let failpoints = try FailpointRegistry.forStore(options.failpoints)
        let metrics = StoreMetrics(factory: options.metricsFactory ?? MetricsSystem.factory)
        let objectStore = MeteredObjectStore.wrap(objectStore, metrics.objectStore)
        let manifest = ManifestStore(store: objectStore, logger: options.logger)
        var attempt = 0
        var v: Version
        while true {
            guard let base = try await manifest.loadVersion() else { throw FloeError.notAFloeStore("no manifest to compact") }
            do {
                v = try await manifest.commit(from: base, make: { base in
                    VersionDelta(sequence: base.sequence + 1, kind: .register, writerID: base.sequence + 1, committedEpoch: base.committedEpoch,
                                 safeEpoch: base.safeEpoch, timestampMillis: StateStore.nowMillis())
                }, onNewer: { _ in nil }, lost: { FloeError.staleCompaction("could not register: \($0)") })
                break
            } catch FloeError.staleCompaction(let why) where attempt < 3 {
                // The store moved on past two checkpoints between the load and the append: load again.
                attempt += 1
                options.logger.debug("compactor register record lost the manifest race; loading again",
                                     metadata: ["floe.attempt": .int(attempt), "floe.reason": .string(why)])
            }
        }
        let c = Compactor(objectStore: objectStore, options: options, sessionID: v.sequence, version: v, failpoints: failpoints,
                          metrics: metrics)
        try await SessionLease.renew(c.sessionID, in: objectStore)
        c.startHeartbeat()
        c.logger.debug("compactor attached", metadata: ["floe.epoch": .int(v.committedEpoch), "floe.manifest.sequence": .int(v.sequence)])
        c.publish(v)
        return c
    }

    /// Renews the lease every `compactorLeaseRenewSeconds` until `detach` (or until the
    /// compactor is dropped). A process that is paused stops renewing with it.
    private func startHeartbeat() {
        let every = options.compaction.compactorLeaseRenewSeconds
        let weakSelf: @Sendable () -> Compactor? = { [weak self] in self }
        let task = Task.detached(priority: .utility) {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int(every * 1000)))
                guard let c = weakSelf(), !Task.isCancelled else { return }
                try? await SessionLease.renew(c.sessionID, in: c.objectStore)
            }
        }
        heartbeat.withLock { $0 = task }
    }

    deinit { heartbeat.withLock { $0?.cancel() } }

    /// Ends this session: stops the lease, appends an `expire` record for it (so GC
    /// may delete its orphans at once) and deletes the lease. Best effort on the
    /// manifest: a session left registered is ended by GC once its lease is stale.
    package func detach() async {
        heartbeat.withLock { $0?.cancel() }
        _ = try? await expire([sessionID])
        try? await objectStore.delete(SessionLease.path(sessionID))
        logger.debug("compactor detached")
    }

    /// Sets the shape gauges of `v` (once per task or GC pass; see `StoreMetrics`).
    private func publish(_ v: Version) {
        metrics.publish(caches: [reader.blockCache.stats, reader.metadata.metas.stats], version: v, debt: picker.debtBytes(v), memtable: 0)
    }

    private func nextID() -> UInt64 {
        (sessionID << 32) | counter.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// The version as of the newest manifest record.
    func currentVersion() async throws -> Version {
        guard let v = try await manifest.loadVersion() else { throw FloeError.notAFloeStore("manifest vanished") }
        observe(v)
        return v
    }

    private func observe(_ v: Version) {
        let now = PosixFileSystem.wallClockSeconds()
        retired.withLock { $0.observe(v, now: now) }
    }

    /// Whether the newest version no longer lists this session (its lease ran out and
    /// a GC pass ended it, or it detached): its tasks are refused until `attach` again.
    package func isEnded() async throws -> Bool {
        !(try await currentVersion()).compactors.contains(sessionID)
    }

    /// The newest version of the store, summarised for tools.
    package func currentSummary() async throws -> VersionSummary {
        VersionSummary(try await currentVersion())
    }

    /// The most urgent task on the newest version, or nil when nothing is due.
    /// `run(_:)` runs it, here or in another compactor.
    package func pickTask() async throws -> CompactionTask? {
        let v = try await currentVersion()
        return picker.pick(v, watermark: v.safeEpoch)
    }

    /// Runs `task` (picked by any compactor, from any version) and commits it on
    /// the newest version.
    /// Throws `staleCompaction` when its inputs are no longer where the task found
    /// them: before any work when that is visible already, else at commit (the
    /// outputs are then orphans for GC).
    package func run(_ task: CompactionTask) async throws -> CompactionResult {
        try await run(task, base: try await currentVersion())
    }

    /// Picks, runs and commits one task. Returns nil when nothing is due.
    /// Throws `staleCompaction` if the inputs changed under it (the outputs are then orphans for GC).
    package func runOnce() async throws -> CompactionResult? {
        let v = try await currentVersion()
        guard let task = picker.pick(v, watermark: v.safeEpoch) else { return nil }
        return try await run(task, base: v)
    }

    private func run(_ task: CompactionTask, base: Version) async throws -> CompactionResult {
        guard base.mayCompact(session: sessionID) else {
            throw FloeError.staleCompaction("compactor session \(sessionID) was ended (its lease ran out): attach again")
        }
        try CompactionCommitter.checkStillValid(task, outputs: [], in: base)
        let t0 = StateStore.monotonicMicros()
        let made = IDLog()
        defer { let ids = made.ids; inFlight.withLock { $0.subtract(ids) } }
        let result = try await CompactionExecutor.run(task, reader: reader, store: objectStore, options: options.sst,
                                                      failpoints: failpoints, buffers: buffers) { [self] in
            let id = nextID()
            made.append(id)
            inFlight.withLock { _ = $0.insert(id) }
            return id
        }
        let committed: Version
        do {
            committed = try await CompactionCommitter.commit(result, base: base, manifest: manifest, compactorID: sessionID,
                                                             failpoints: failpoints) { [self] newer in observe(newer) }
        } catch let FloeError.staleCompaction(why) {
            logger.debug("compaction task stale: its inputs changed", metadata: ["floe.reason": .string(why)])
            throw FloeError.staleCompaction(why)
        }
        observe(committed)
        let micros = StateStore.monotonicMicros() - t0
        let rewritten = task.kind == .trivialMove ? [] : result.outputs
        metrics.compaction(kind: task.kind.rawValue, micros: micros, read: result.bytesRead, written: result.bytesWritten)
        metrics.uploaded(.compaction, ssts: rewritten.count, bytes: rewritten.reduce(0) { $0 + $1.fileSize })
        publish(committed)
        logger.debug("compaction task done", metadata: StateStore.describe(task, result, micros: micros))
        return result
    }

    /// One object GC pass over `data/`: deletes the SSTs the newest version does not
    /// reference once they have been unreferenced for `graceSeconds`, by the rule of
    /// `SessionGC`: never the live writer's uncommitted syncs, and another compactor
    /// session's outputs only after ending that session (its lease older than the grace).
    ///
    /// This process cannot see the writer's pins (snapshots and scans of older
    /// versions), so the grace alone protects them: it must exceed the longest
    /// snapshot or scan the writer holds. A writer follows the manifest at least
    /// every second, so its plain reads move off retired SSTs well within any grace.
    /// An SST this compactor saw referenced is timed from the first time it saw it
    /// unreferenced; any other object from its modification time.
    /// - Throws: errors from reading the manifest, listing or deleting objects.
    package func collectGarbage(graceSeconds: Double) async throws -> GarbageReport {
        let v = try await currentVersion()
        let now = PosixFileSystem.wallClockSeconds()
        let retiredAt = retired.withLock { $0.since }
        let sessions = SessionGC(latest: v, own: sessionID, leases: try await SessionLease.renewals(in: objectStore),
                                 graceSeconds: graceSeconds, now: now)
        let protected = inFlight.withLock { $0 }
            .union(try await ReaderLease.protectedSsts(in: objectStore, leaseSeconds: options.compaction.readerLeaseSeconds, now: now))
        let r = try await ObjectGC(store: objectStore, failpoints: failpoints).collect(
            live: v.referencedSsts, protected: protected, retiredAt: retiredAt,
            graceSeconds: graceSeconds, now: now, sessions: sessions) { [self] ids in try await expire(ids) }
        retired.withLock { $0.forget(graceSeconds: graceSeconds, now: now) }
        metrics.gcPasses.increment()
        metrics.gcDeletedObjects.increment(by: r.deleted.count)
        metrics.gcDeletedBytes.increment(by: Int64(clamping: r.deletedBytes))
        StateStore.logGC(logger, r, grace: graceSeconds)
        return GarbageReport(deletedObjects: r.deleted.count, deletedBytes: r.deletedBytes, keptObjects: r.kept)
    }

    /// Ends the compactor sessions `ids` (others whose lease ran out, or this one); returns the version after.
    private func expire(_ ids: [UInt64]) async throws -> Version? {
        let base = try await currentVersion()
        let v = try await manifest.commit(from: base, make: { [sessionID] base in
            VersionDelta.expire(ids, on: base, by: sessionID)
        }, onNewer: { _ in nil }, lost: { FloeError.staleCompaction($0) })
        observe(v)
        for id in ids where !v.compactors.contains(id) { try? await objectStore.delete(SessionLease.path(id)) }
        return v
    }
}
