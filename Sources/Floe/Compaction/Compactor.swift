import Synchronization

/// A compactor that needs nothing but the object store: `floe compact` runs one
/// in its own process, tests drive one step by step. It registers a session in
/// the manifest (for unique SST names; it fences nobody), picks from the newest
/// version, uses the watermark the writer published (`safeEpoch`), and commits
/// through create-if-absent, rebasing over concurrent commits.
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

    private init(objectStore: any ObjectStore, options: StoreOptions, sessionID: UInt64, version: Version,
                 failpoints: FailpointRegistry) {
        self.objectStore = objectStore
        self.failpoints = failpoints
        self.options = options
        self.manifest = ManifestStore(store: objectStore)
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
        let manifest = ManifestStore(store: objectStore)
        guard var base = try await manifest.loadVersion() else { throw FloeError.notAFloeStore("no manifest to compact") }
        for _ in 0..<1000 {
            let seq = base.sequence + 1
            let d = VersionDelta(sequence: seq, kind: .register, writerID: seq, committedEpoch: base.committedEpoch,
                                 safeEpoch: base.safeEpoch, timestampMillis: StateStore.nowMillis())
            if try await manifest.append(d) {
                return Compactor(objectStore: objectStore, options: options, sessionID: seq,
                                 version: try base.applying(d, object: VersionDelta.objectPath(seq)), failpoints: failpoints)
            }
            base = try await manifest.catchUp(base)
        }
        throw FloeError.staleCompaction("could not register: the manifest keeps moving")
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
        let now = Double(StateStore.nowMillis()) / 1000
        retired.withLock { $0.observe(v, now: now) }
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
        try CompactionCommitter.checkStillValid(task, outputs: [], in: base)
        let result = try await CompactionExecutor.run(task, reader: reader, store: objectStore, options: options.sst,
                                                      failpoints: failpoints, buffers: buffers) { [self] in nextID() }
        observe(try await CompactionCommitter.commit(result, base: base, manifest: manifest, compactorID: sessionID,
                                                     failpoints: failpoints))
        return result
    }

    /// One object GC pass over `data/`: deletes every SST the newest version does
    /// not reference once it has been unreferenced for `graceSeconds`.
    ///
    /// This process cannot see the writer's pins (snapshots and scans of older
    /// versions, SSTs a sync uploaded whose commit has not landed), so the grace
    /// alone protects them, and it must exceed the longest snapshot or scan the
    /// writer holds, its longest sync-to-commit time, and the longest pause between
    /// its commits while it keeps reading: a writer adopts compaction results only at
    /// its next commit and reads the SSTs they replaced until then (`floe compact`
    /// defaults to 600 s). An SST this compactor saw referenced is timed from the first time it
    /// saw it unreferenced; any other object (an SST retired before this compactor
    /// attached, an orphan of a crashed upload or a stale compaction, a sync awaiting
    /// its commit) from its modification time.
    /// - Throws: errors from reading the manifest, listing or deleting objects.
    package func collectGarbage(graceSeconds: Double) async throws -> GarbageReport {
        let v = try await currentVersion()
        let now = Double(StateStore.nowMillis()) / 1000
        let retiredAt = retired.withLock { $0.since }
        let r = try await ObjectGC(store: objectStore, failpoints: failpoints).collect(live: Set(v.allSsts.map(\.id)), protected: [], retiredAt: retiredAt,
                                                               graceSeconds: graceSeconds, now: now)
        retired.withLock { $0.forget(graceSeconds: graceSeconds, now: now) }
        return GarbageReport(deletedObjects: r.deleted.count, deletedBytes: r.deletedBytes, keptObjects: r.kept)
    }
}
