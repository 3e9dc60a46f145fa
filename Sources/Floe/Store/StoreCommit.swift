import Logging
import Synchronization

/// The epoch protocol: seal, sync (memtables to SSTs in the object store), commit
/// (one manifest append through `ManifestStore.commit`), fencing, installing a new
/// version, manifest checkpoints and the memtable budget.
extension StateStore {
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
                frozen.recycleWhenReleased(into: memtableRecycling)
                s.lastSealedShape = first.shape
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
                var outputs: [MemtableFlush.Output]
                if group.count == 1, case let parts = syncParts(group[0]), parts > 1 {
                    let m = group[0]
                    let order = await m.order(parts: parts)
                    outputs = await MemtableFlush.build(m, order: order, parts: parts, options: options.sst, buffers: sstBuffers) { [self] in nextSstID() }
                } else {
                    outputs = MemtableFlush.build(group, options: options.sst, buffers: sstBuffers) { nextSstID() }
                }
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

    /// Key ranges a sync sorts and builds `m` in at once: `syncParallelism`, fewer
    /// when that would leave a range under `syncRangeMinBytes` of memtable (small
    /// epochs stay one file).
    func syncParts(_ m: FrozenMemtable) -> Int {
        min(options.syncParallelism, max(1, m.memoryBytes / max(1, options.syncRangeMinBytes)))
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
}
