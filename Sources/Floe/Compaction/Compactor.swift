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
    package let sessionID: UInt64
    private let counter = Atomic<UInt64>(0)

    private init(objectStore: any ObjectStore, options: StoreOptions, sessionID: UInt64) {
        self.objectStore = objectStore
        self.options = options
        self.manifest = ManifestStore(store: objectStore)
        self.reader = SstReader(store: objectStore,
                                blockCache: ShardedLRUCache(capacityBytes: 0),
                                metaCache: ShardedLRUCache(capacityBytes: options.metaCacheBytes))
        self.sessionID = sessionID
    }

    /// Registers a compactor session on an existing store.
    /// Throws `notAFloeStore` if the object store holds no manifest.
    package static func attach(objectStore: any ObjectStore, options: StoreOptions = .init()) async throws -> Compactor {
        let manifest = ManifestStore(store: objectStore)
        guard var base = try await manifest.load() else { throw FloeError.notAFloeStore("no manifest to compact") }
        for _ in 0..<1000 {
            let seq = base.sequence + 1
            let d = VersionDelta(sequence: seq, kind: .register, writerID: seq, committedEpoch: base.committedEpoch,
                                 safeEpoch: base.safeEpoch, timestampMillis: StateStore.nowMillis())
            if try await manifest.append(d) { return Compactor(objectStore: objectStore, options: options, sessionID: seq) }
            base = try await manifest.catchUp(base)
        }
        throw FloeError.staleCompaction("could not register: the manifest keeps moving")
    }

    private func nextID() -> UInt64 {
        (sessionID << 32) | counter.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// The version as of the newest manifest record.
    func currentVersion() async throws -> Version {
        guard let v = try await manifest.load() else { throw FloeError.notAFloeStore("manifest vanished") }
        return v
    }

    /// Picks, runs and commits one task. Returns nil when nothing is due.
    /// Throws `staleCompaction` if the inputs changed under it (the outputs are then orphans for GC).
    package func runOnce() async throws -> CompactionResult? {
        let v = try await currentVersion()
        let picker = CompactionPicker(options: options.compaction, sst: options.sst)
        guard let task = picker.pick(v, watermark: v.safeEpoch) else { return nil }
        let result = try await CompactionExecutor.run(task, reader: reader, store: objectStore, options: options.sst) { [self] in nextID() }
        _ = try await CompactionCommitter.commit(result, base: v, manifest: manifest, compactorID: sessionID)
        return result
    }
}
