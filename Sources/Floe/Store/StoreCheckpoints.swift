/// Named checkpoints and read-only followers: versions kept for readers other
/// than the writer's own.
extension StateStore {
    // MARK: named checkpoints

    /// Pins the committed version under `name`, durably: a `pin` manifest record
    /// names it and its SSTs, and every GC keeps them until `deleteCheckpoint`, however
    /// far compaction moves on. The version itself is stored as
    /// `checkpoints/<name>.<sequence>.version` first, so no record names a checkpoint that is not
    /// readable. Open it with `openReadOnly(path:checkpoint:)`; clone it into a new
    /// store with `restoreCheckpoint`. Commits wait while it is created.
    ///
    /// Throws `invalidArgument` for a malformed name (1 to 128 of `A-Za-z0-9._-`),
    /// `checkpointExists`, `fenced` (also on a read-only store), `closed`, object store errors.
    @discardableResult
    public func createCheckpoint(name: String) async throws -> CheckpointInfo {
        try NamedCheckpoint.validate(name)
        return try await commitLock.withLock {
            let (v, pin) = try state.withLock { s -> (Version, VersionPin) in
                if s.closed { throw FloeError.closed }
                if let f = s.fenced { throw FloeError.fenced(f) }
                // Pinned so this process's GC keeps the files while the version object is written.
                return (s.version, VersionPin(version: s.version, epoch: s.version.committedEpoch, registry: pins))
            }
            defer { pin.release() }
            let (record, after) = try await StateStore.appendPin(name, objectStore: objectStore, manifest: manifest, session: writerID,
                                                                 from: v, check: writerCheck, onNewer: { [self] in install($0) })
            install(after)
            return CheckpointInfo(record)
        }
    }

    /// Ends the named checkpoint `name`: an `unpin` record, then its version object
    /// is deleted. Its SSTs that nothing else references go at the next GC pass after
    /// their grace. A reader that opened it may then lose files.
    /// Throws `checkpointNotFound`, `invalidArgument`, `fenced`, `closed`, object store errors.
    public func deleteCheckpoint(name: String) async throws {
        try NamedCheckpoint.validate(name)
        try await commitLock.withLock {
            let base: Version = try state.withLock { s in
                if s.closed { throw FloeError.closed }
                if let f = s.fenced { throw FloeError.fenced(f) }
                return s.version
            }
            install(try await StateStore.appendUnpin(name, objectStore: objectStore, manifest: manifest, session: writerID,
                                                     from: base, check: writerCheck, onNewer: { [self] in install($0) }))
        }
    }

    /// `createCheckpoint` from any process, without a writer session: the `pin`
    /// record is appended through the manifest protocol like a compactor's record,
    /// so it fences nobody, and the live writer rebases over it. For `floe checkpoint create`.
    @discardableResult
    public static func createCheckpoint(objectStore: any ObjectStore, name: String) async throws -> CheckpointInfo {
        try NamedCheckpoint.validate(name)
        let manifest = ManifestStore(store: objectStore)
        guard let v = try await manifest.loadVersion() else { throw FloeError.notAFloeStore("no manifest") }
        return CheckpointInfo(try await appendPin(name, objectStore: objectStore, manifest: manifest, session: 0, from: v,
                                                  check: { _ in }, onNewer: { _ in }).record)
    }

    /// `deleteCheckpoint` from any process, without a writer session (`floe checkpoint delete`).
    public static func deleteCheckpoint(objectStore: any ObjectStore, name: String) async throws {
        try NamedCheckpoint.validate(name)
        let manifest = ManifestStore(store: objectStore)
        guard let v = try await manifest.loadVersion() else { throw FloeError.notAFloeStore("no manifest") }
        _ = try await appendUnpin(name, objectStore: objectStore, manifest: manifest, session: 0, from: v, check: { _ in }, onNewer: { _ in })
    }

    /// The named checkpoints of the store in `objectStore`, from its newest manifest.
    public static func checkpoints(objectStore: any ObjectStore) async throws -> [CheckpointInfo] {
        guard let v = try await ManifestStore(store: objectStore).loadVersion() else { throw FloeError.notAFloeStore("no manifest") }
        return v.namedCheckpoints.map(CheckpointInfo.init)
    }

    /// Refuses a record on `base` once another writer opened the store.
    private func writerCheck(_ base: Version) throws {
        guard base.writerID == writerID else { throw fence("writer \(base.writerID) opened the store after this writer (\(writerID))") }
    }

    /// The base moved (a compaction, a commit) between writing the version object and appending the record.
    private struct PinnedVersionMoved: Error {
        let base: Version
    }

    /// The one pin protocol: stores version `start` as the checkpoint's object, then
    /// appends the `pin` record, but only on a base with the same committed epoch and
    /// SSTs (else it starts over on that base). So the record pins files the newest
    /// manifest still references when it lands, which no GC can have deleted.
    private static func appendPin(_ name: String, objectStore: any ObjectStore, manifest: ManifestStore, session: UInt64,
                                  from start: Version, check: (Version) throws -> Void,
                                  onNewer: (Version) -> Void) async throws -> (record: NamedCheckpoint, version: Version) {
        var v = start
        for _ in 0..<100 {
            try check(v)
            if v.namedCheckpoints.contains(where: { $0.name == name }) { throw FloeError.checkpointExists(name) }
            try await objectStore.put(NamedCheckpoint.objectPath(name, sequence: v.sequence), ManifestCodec.encode(v))
            let record = NamedCheckpoint(name: name, pinning: v, createdMillis: nowMillis())
            do {
                let after = try await manifest.commit(from: v, make: { base in
                    try check(base)
                    if base.namedCheckpoints.contains(where: { $0.name == name }) { throw FloeError.checkpointExists(name) }
                    guard base.committedEpoch == record.epoch, base.allSsts.map(\.id).sorted() == record.ssts else {
                        throw PinnedVersionMoved(base: base)
                    }
                    var d = VersionDelta(sequence: base.sequence + 1, kind: .pin, writerID: session, committedEpoch: base.committedEpoch,
                                         safeEpoch: base.safeEpoch, timestampMillis: nowMillis())
                    d.namedCheckpoint = record
                    return d
                }, onNewer: { newer in
                    onNewer(newer)
                    return nil
                }, lost: { FloeError.fenced($0) })
                return (record, after)
            } catch let moved as PinnedVersionMoved {
                v = moved.base
            }
        }
        throw FloeError.fenced("the manifest kept moving while checkpoint \(name) was created")
    }

    /// Appends the `unpin` record of `name`, then deletes its version object (the
    /// record decides; an object a crash leaves behind is overwritten by the next
    /// create of that name).
    private static func appendUnpin(_ name: String, objectStore: any ObjectStore, manifest: ManifestStore, session: UInt64,
                                    from start: Version, check: (Version) throws -> Void,
                                    onNewer: (Version) -> Void) async throws -> Version {
        var pinned: NamedCheckpoint?
        let after = try await manifest.commit(from: start, make: { base in
            try check(base)
            guard let c = base.namedCheckpoints.first(where: { $0.name == name }) else { throw FloeError.checkpointNotFound(name) }
            pinned = c
            var d = VersionDelta(sequence: base.sequence + 1, kind: .unpin, writerID: session, committedEpoch: base.committedEpoch,
                                 safeEpoch: base.safeEpoch, timestampMillis: nowMillis())
            d.namedCheckpoint = NamedCheckpoint(name: name, epoch: 0, sequence: 0, createdMillis: 0, bytes: 0, ssts: [])
            return d
        }, onNewer: { newer in
            onNewer(newer)
            return nil
        }, lost: { FloeError.fenced($0) })
        if let pinned { try? await objectStore.delete(pinned.objectPath) }
        return after
    }

    /// The named checkpoints of the current version, by name.
    public var checkpoints: [CheckpointInfo] {
        state.withLock { $0.version.namedCheckpoints.map(CheckpointInfo.init) }
    }

    /// The manifest record of checkpoint `name` and the version it pins, read from
    /// the newest manifest. Throws `checkpointNotFound`, `notAFloeStore`, `corruption`.
    static func loadNamedCheckpoint(_ objectStore: any ObjectStore, _ name: String) async throws -> (NamedCheckpoint, Version) {
        try NamedCheckpoint.validate(name)
        guard let loaded = try await ManifestStore(store: objectStore).load() else { throw FloeError.notAFloeStore("no manifest") }
        guard let record = loaded.version.namedCheckpoints.first(where: { $0.name == name }) else {
            throw FloeError.checkpointNotFound(name)
        }
        let path = record.objectPath
        let v = try ManifestCodec.decodeVersion(try await objectStore.get(path), object: path)
        guard v.sequence == record.sequence, v.allSsts.map(\.id).sorted() == record.ssts else {
            throw FloeError.corruption(object: path, offset: 0,
                                       reason: "holds version \(v.sequence) with \(v.allSsts.count) SSTs; the manifest pins version \(record.sequence) with \(record.ssts.count)")
        }
        return (record, v)
    }

    /// Clones checkpoint `name` of the store in `source` into a new, independent
    /// store in `destination`, which must be empty or absent: its SSTs are hard-linked
    /// (copied where linking fails), and its manifest starts at the checkpoint's
    /// version with no named checkpoints. Opening it then makes a writer that
    /// continues from the checkpoint's epoch. Returns the files and bytes linked or copied.
    /// Throws `checkpointNotFound`, `invalidArgument` (destination not empty),
    /// `notAFloeStore`, `corruption`, `objectNotFound` (an SST GC already deleted), I/O errors.
    @discardableResult
    public static func restoreCheckpoint(name: String, from source: String, to destination: String) async throws -> (files: Int, bytes: UInt64) {
        let src = try LocalObjectStore(root: source, create: false)
        let (_, v) = try await loadNamedCheckpoint(src, name)
        let dst = try LocalObjectStore(root: destination, create: true)
        let existing = try await dst.list(prefix: "")
        guard existing.isEmpty else {
            throw FloeError.invalidArgument("restore destination \(destination) is not empty (\(existing.count) objects, first \(existing[0].path))")
        }
        var bytes: UInt64 = 0
        for f in v.allSsts {
            try await src.cloneObject(f.path, into: dst)
            bytes += f.fileSize
        }
        // The clone's manifest: the pinned version alone, written last, so a crash before
        // it leaves no store (only files `open` refuses as stray). Session ids of the
        // clone's writers come after the version's sequence, so they never reuse an SST id
        // of the files taken over. No head digest: there is no delta before it.
        let clone = Version(sequence: v.sequence, writerID: v.writerID, committedEpoch: v.committedEpoch, safeEpoch: v.safeEpoch,
                            metadata: v.metadata, l0: v.l0, levels: v.levels, stats: v.stats, headDigest: 0,
                            lastCommit: v.lastCommit, compactors: [], watermarks: v.watermarks)
        _ = try await dst.createIfAbsent(ManifestStore.checkpointPath(clone.sequence), ManifestCodec.encode(clone))
        return (v.allSsts.count, bytes)
    }

    // MARK: followers

    /// A follower moves to the newest committed version: reads the manifest objects
    /// written since its version (never a data file), rewrites its reader lease for
    /// it, and returns the committed epoch. Reads started before keep their version.
    /// Throws `invalidArgument` on a writer (which follows the manifest itself) or a
    /// store opened at a named checkpoint, `closed`, object store errors and `corruption`.
    @discardableResult
    public func refresh() async throws -> Epoch {
        guard case let .follower(reader) = mode else {
            throw FloeError.invalidArgument("refresh() is for stores opened with openReadOnly (this one is \(mode == .writer ? "the writer" : "at a checkpoint"))")
        }
        if state.withLock({ $0.closed }) { throw FloeError.closed }
        let latest = try await StateStore.leaseNewest(reader, from: currentVersion, manifest: manifest, objectStore: objectStore)
        install(latest)
        return latest.committedEpoch
    }

    /// The newest version, with `reader`'s lease naming its SSTs. A GC pass reads its
    /// version before the leases, so once the lease is written a version that is
    /// still the newest has lost no file: a GC that later sees one of its files
    /// retired reads the lease too. If the manifest moved on meanwhile (a file may
    /// have been retired, and, with no grace, deleted before the lease landed), the
    /// newer version is leased and checked the same way; after 8 rounds the last
    /// one is taken, and the GC grace alone protects it.
    static func leaseNewest(_ reader: UInt64, from start: Version, manifest: ManifestStore,
                            objectStore: any ObjectStore) async throws -> Version {
        var v = try await manifest.catchUp(start)
        for _ in 0..<8 {
            try await ReaderLease.write(reader, version: v, in: objectStore)
            let after = try await manifest.catchUp(v)
            if after.sequence == v.sequence { return v }
            v = after
        }
        try await ReaderLease.write(reader, version: v, in: objectStore)
        return v
    }

    /// Renews the follower's lease every third of `readerLeaseSeconds` while the store lives.
    func startLeaseRenewal() {
        guard case let .follower(reader) = mode else { return }
        let period = max(0.01, options.compaction.readerLeaseSeconds / 3)
        let task = Task.detached { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int(period * 1000)))
                guard let self, !self.state.withLock({ $0.closed }) else { return }
                try? await ReaderLease.write(reader, version: self.currentVersion, in: self.objectStore)
            }
        }
        worker.withLock { $0.append(task) }
    }
}
