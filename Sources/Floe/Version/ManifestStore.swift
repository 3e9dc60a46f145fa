import Logging

/// Reads and writes the manifest objects of one store: checkpoints and deltas.
/// Never reads a data file. Owns the one manifest-append protocol (`commit`).
///
/// Which records count (the invariant fencing rests on, docs/architecture.md):
/// the version is the newest checkpoint that reads back, plus the contiguous
/// deltas after it. Deltas are pruned only as a prefix, oldest first, and only up
/// to the second-newest checkpoint, so a delta name at or below that checkpoint
/// can be created again by a process that fell behind (a paused writer or
/// compactor). Such a record is never part of the version: readers start from
/// the newest checkpoint, and its writer learns it lost because the delta before
/// it is no longer the one its version applied (`commit`).
struct ManifestStore: Sendable {
    let store: any ObjectStore
    var logger = Logger.floeDisabled

    static func checkpointPath(_ sequence: UInt64) -> String {
        "manifest/" + String(sequence).leftPad(20) + ".checkpoint"
    }

    /// Names in `manifest/`, parsed.
    struct Listing {
        var deltas: [UInt64] = []
        var checkpoints: [UInt64] = []
    }

    func listing() async throws -> Listing {
        var l = Listing()
        for o in try await store.list(prefix: "manifest/") {
            let name = o.path.dropFirst("manifest/".count)
            if name.hasSuffix(".delta"), let s = UInt64(name.dropLast(".delta".count)) { l.deltas.append(s) }
            else if name.hasSuffix(".checkpoint"), let s = UInt64(name.dropLast(".checkpoint".count)) { l.checkpoints.append(s) }
        }
        l.deltas.sort()
        l.checkpoints.sort()
        return l
    }

    /// The current version, or nil if the store has no manifest yet.
    func loadVersion() async throws -> Version? { try await load()?.version }

    /// The current version and the sequence of the checkpoint it was loaded from
    /// (0: none), or nil if the store has no manifest yet. A checkpoint that does
    /// not read back (damaged, truncated) is passed over for the one before it and
    /// the deltas after that, which pruning keeps for exactly this case.
    /// Throws `FloeError.corruption` when no checkpoint and delta chain reads back.
    func load() async throws -> (version: Version, checkpoint: UInt64)? {
        // The writer prunes objects older than its second-newest checkpoint: one listed
        // here can vanish before it is read. Only then is the load started over.
        var attempt = 0
        while true {
            attempt += 1
            do {
                let l = try await listing()
                if l.deltas.isEmpty && l.checkpoints.isEmpty { return nil }
                return try await newest(from: .empty, listed: l)
            } catch FloeError.objectNotFound(let path) where attempt < 5 && path.hasPrefix("manifest/") {
                logger.debug("manifest object pruned while reading it; listing again",
                             metadata: ["floe.object": .string(path), "floe.attempt": .int(attempt)])
                continue
            }
        }
    }

    /// The newest version: from the newest checkpoint above `start` that reads back
    /// (else from `start`), plus the contiguous deltas after it.
    private func newest(from start: Version, listed l: Listing) async throws -> (version: Version, checkpoint: UInt64) {
        var damaged: FloeError?
        for c in l.checkpoints.reversed() where c > start.sequence {
            do {
                return (try await applyDeltas(try await readCheckpoint(c), l.deltas), c)
            } catch let e as FloeError {
                guard e.isDamage else { throw e }
                // Once per load (an open), and recovered from: the one-time warning swift-log's
                // guidance allows a library.
                logger.warning("manifest checkpoint does not read back; loading the one before it",
                               metadata: ["floe.checkpoint": .int(c), "floe.error": .string(e.description)])
                damaged = damaged ?? e
            }
        }
        // Deltas at or below the second-newest checkpoint may be pruned or re-created by a
        // process that fell behind: a chain through them is trusted only when no checkpoint says otherwise.
        let secondNewest = l.checkpoints.count >= 2 ? l.checkpoints[l.checkpoints.count - 2] : 0
        if let damaged, start.sequence < secondNewest { throw damaged }
        do {
            return (try await applyDeltas(start, l.deltas), 0)
        } catch let e as FloeError where damaged != nil && e.isDamage {
            throw damaged!
        }
    }

    private func applyDeltas(_ start: Version, _ deltas: [UInt64]) async throws -> Version {
        var version = start
        for s in deltas where s > version.sequence {
            guard s == version.sequence + 1 else {
                throw FloeError.corruption(object: VersionDelta.objectPath(version.sequence + 1), offset: 0,
                                           reason: "manifest delta \(version.sequence + 1) is missing (next present: \(s))")
            }
            let (d, digest) = try await readDelta(s)
            version = try version.applying(d, object: VersionDelta.objectPath(s), digest: digest)
        }
        return version
    }

    func readCheckpoint(_ sequence: UInt64) async throws -> Version {
        let path = ManifestStore.checkpointPath(sequence)
        let version = try ManifestCodec.decodeVersion(try await store.get(path), object: path)
        guard version.sequence == sequence else {
            throw FloeError.corruption(object: path, offset: 0, reason: "checkpoint holds sequence \(version.sequence)")
        }
        return version
    }

    /// The newest version, reached from `start`: through the deltas after it while
    /// no checkpoint is newer than `start`, else from the newest checkpoint (a delta
    /// at or below a checkpoint may be a fenced process's record, never applied).
    func catchUp(_ start: Version) async throws -> Version {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await newest(from: start, listed: try await listing()).version
            } catch FloeError.objectNotFound(let path) where attempt < 5 && path.hasPrefix("manifest/") {
                logger.debug("manifest object pruned while reading it; listing again",
                             metadata: ["floe.object": .string(path), "floe.attempt": .int(attempt)])
                continue
            }
        }
    }

    /// The delta at `sequence` and the checksum trailer of its stored bytes.
    func readDelta(_ sequence: UInt64) async throws -> (delta: VersionDelta, digest: UInt64) {
        let path = VersionDelta.objectPath(sequence)
        let bytes = try await store.get(path)
        let d = try ManifestCodec.decodeDelta(bytes, object: path)
        guard d.sequence == sequence else {
            throw FloeError.corruption(object: path, offset: 0, reason: "delta holds sequence \(d.sequence)")
        }
        return (d, ManifestCodec.digest(bytes))
    }

    /// The one manifest-append protocol: appends the record `make` builds on the
    /// newest version, created-if-absent at the next sequence, and returns the
    /// version after it.
    ///
    /// - `make(base)` builds the record for `base` (its sequence must be
    ///   `base.sequence + 1`), or returns nil when nothing is left to append (the
    ///   protocol then returns `base`); it throws to refuse (fenced, stale).
    /// - When another process took the sequence, the newest version is read and
    ///   handed to `onNewer`, which returns a version to finish with (the record
    ///   this caller wanted landed earlier, e.g. with its acknowledgement lost),
    ///   throws to refuse, or returns nil to try again on it.
    /// - A create whose acknowledgement was lost (the store threw) is adopted when
    ///   the object holds exactly the bytes written; otherwise the error is rethrown
    ///   and the record may or may not have landed.
    /// - After a create, the delta before it must still be the one `base` applied.
    ///   If it is gone or different, the name was free only because pruning had
    ///   freed it: the record is not part of the version, is deleted, and `lost`
    ///   says why (the caller's `fenced` or `staleCompaction`). Nothing is returned
    ///   for it, so no caller acknowledges, checkpoints or collects on its basis.
    func commit(from start: Version, attempts: Int = 1000,
                make: (Version) throws -> VersionDelta?,
                onNewer: (Version) throws -> Version?,
                lost: (String) -> FloeError) async throws -> Version {
        var base = start
        for _ in 0..<attempts {
            guard let delta = try make(base) else { return base }
            precondition(delta.sequence == base.sequence + 1, "a manifest record must follow its base")
            let bytes = ManifestCodec.encode(delta)
            let path = VersionDelta.objectPath(delta.sequence)
            var created: Bool
            do {
                created = try await store.createIfAbsent(path, bytes)
            } catch {
                guard await landedIntact(path, bytes) else { throw error }
                logger.debug("manifest append: acknowledgement lost, the record landed intact",
                             metadata: ["floe.object": .string(path), "floe.error": .string("\(error)")])
                created = true
            }
            if created {
                if let why = try await predecessorMismatch(base) {
                    // Pruning had freed the name: the record is no one's, and a reader that
                    // fell behind must not apply it. Only our own bytes are removed.
                    if (try? await store.get(path)) == bytes { try? await store.delete(path) }
                    throw lost(why)
                }
                return try base.applying(delta, object: path, digest: ManifestCodec.digest(bytes))
            }
            let newer = try await catchUp(base)
            logger.debug("manifest append: another process took the sequence; catching up",
                         metadata: ["floe.manifest.sequence": .int(delta.sequence), "floe.manifest.newest": .int(newer.sequence)])
            if let done = try onNewer(newer) { return done }
            base = newer
        }
        throw lost("the manifest kept moving: gave up after \(attempts) attempts")
    }

    /// After a create threw: whether the object holds exactly `bytes` (the create
    /// landed, its acknowledgement was lost). The object is created again first: a
    /// create-if-absent that finds it reports it only once it is durable, and a landed
    /// object can still be unsynced (a failed directory fsync after the link).
    private func landedIntact(_ path: String, _ bytes: [UInt8]) async -> Bool {
        guard let landed = try? await store.get(path), landed == bytes else { return false }
        return (try? await store.createIfAbsent(path, bytes)) != nil
    }

    /// Why a record just created right after `base` cannot be part of the version,
    /// or nil if it is. Read errors are thrown: the record may then be either.
    private func predecessorMismatch(_ base: Version) async throws -> String? {
        let s = base.sequence + 1
        guard base.sequence > 0, base.headDigest != 0 else {
            // No digest to compare (a new store, a checkpoint of format 1): a sequence freed
            // by pruning lies at or below a checkpoint that still exists.
            if let c = try await listing().checkpoints.last, c >= s {
                return "manifest sequence \(s) was pruned behind checkpoint \(c): this process fell behind"
            }
            return nil
        }
        let bytes: [UInt8]
        do {
            bytes = try await store.get(VersionDelta.objectPath(base.sequence))
        } catch FloeError.objectNotFound {
            return "manifest sequence \(base.sequence) was pruned while this process worked on it: it fell behind"
        }
        guard ManifestCodec.digest(bytes) == base.headDigest else {
            return "manifest delta \(base.sequence) is not the one this process applied: it fell behind"
        }
        return nil
    }

    /// Writes a checkpoint of `v`, created-if-absent: a checkpoint is a function of the
    /// delta chain, so one already there holds the same version and is never overwritten.
    func writeCheckpoint(_ v: Version) async throws {
        _ = try await store.createIfAbsent(ManifestStore.checkpointPath(v.sequence), ManifestCodec.encode(v))
    }

    /// Deletes the manifest objects that no load needs: every checkpoint older than
    /// the second-newest one and every delta up to it. A load starts from the newest
    /// checkpoint, so keeping one more interval lets a reader that listed just before
    /// the newest was written finish, and lets a load pass over a damaged newest
    /// checkpoint. Oldest first, so an interrupted prune leaves no gap above what
    /// remains and the deleted deltas always form a prefix. Without it the manifest
    /// grows by one object per commit and every open lists all of them. Returns the
    /// number of objects deleted.
    @discardableResult
    func prune() async throws -> Int {
        let l = try await listing()
        guard l.checkpoints.count >= 2 else { return 0 }
        let keep = l.checkpoints[l.checkpoints.count - 2]
        var n = 0
        for c in l.checkpoints where c < keep {
            try await store.delete(ManifestStore.checkpointPath(c))
            n += 1
        }
        for d in l.deltas where d <= keep {
            try await store.delete(VersionDelta.objectPath(d))
            n += 1
        }
        return n
    }
}

extension FloeError {
    /// A damaged or unreadable object (as opposed to a missing one or an I/O error).
    var isDamage: Bool {
        switch self {
        case .corruption, .unsupportedFormat: return true
        default: return false
        }
    }
}
