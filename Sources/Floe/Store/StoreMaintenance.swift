import Logging
import Synchronization

/// Compaction, write stalls and object GC of a store: the background worker
/// and the same steps exposed for callers who drive them by hand.
extension StateStore {
    /// A fresh SST id of this writer session.
    func nextSstID() -> UInt64 {
        (writerID << 32) | (sstCounter.wrappingAdd(1, ordering: .relaxed).oldValue & 0xFFFF_FFFF)
    }

    /// Oldest epoch a reader may still ask for: min(pinned epochs, committed minus
    /// the retention window), never below what compaction already published.
    func watermark(_ v: Version) -> Epoch {
        let window = v.committedEpoch >= options.retentionEpochs ? v.committedEpoch - options.retentionEpochs : 0
        return max(v.safeEpoch, min(pins.minimum ?? .max, window))
    }

    /// Runs one compaction task in the caller's task: picks the most urgent
    /// task, merges, uploads, commits (rebasing over concurrent commits) and
    /// installs the new version. Returns nil when nothing is due.
    /// Throws `staleCompaction` if another compactor changed the inputs, I/O and corruption errors.
    /// With `idle` true it also moves leftover L0 sub-levels down when nothing else is due,
    /// and puts the outputs' blocks into the block cache (when they fit in its free
    /// room) so reads after it stay warm. With `idle` false (writes are arriving) it
    /// does not: during an ingest that copy cost the fill about a tenth of its
    /// throughput, for files the next compaction mostly replaces.
    @discardableResult
    public func compactOnce(idle: Bool = false) async throws -> CompactionResult? {
        try await compactOnce(idle: idle, settled: idle, intraL0Only: false)
    }

    func compactOnce(idle: Bool, settled: Bool, intraL0Only: Bool) async throws -> CompactionResult? {
        let picked: (Version, CompactionTask)? = try state.withLock { s in
            if s.closed { throw FloeError.closed }
            if let f = s.fenced { throw FloeError.fenced(f) }
            guard let task = picker.pick(s.version, watermark: watermark(s.version), busy: s.compactionBusy,
                                         idle: idle, settled: settled, intraL0Only: intraL0Only) else { return nil }
            for id in task.inputIDs { s.compactionBusy.insert(id) }
            return (s.version, task)
        }
        guard let (_, task) = picked else { return nil }
        let t0 = StateStore.monotonicMicros()
        let outputs = IDLog()
        defer {
            let made = outputs.ids
            state.withLock { s in
                for id in task.inputIDs { s.compactionBusy.remove(id) }
                for id in made { s.compactionBusy.remove(id) }
            }
        }
        let result = try await CompactionExecutor.run(task, reader: reader, store: objectStore, options: options.sst,
                                                      failpoints: failpoints, buffers: sstBuffers,
                                                      prefillCache: idle) { [self] in
            // Outputs are uploaded before they are committed: mark them busy so GC keeps them.
            let id = nextSstID()
            outputs.append(id)
            state.withLock { _ = $0.compactionBusy.insert(id) }
            return id
        }
        try await commitLock.withLock {
            let base = currentVersion
            let v = try await CompactionCommitter.commit(result, base: base, manifest: manifest, compactorID: writerID,
                                                       failpoints: failpoints) { [self] newer in install(newer) }
            install(v)
        }
        let micros = StateStore.monotonicMicros() - t0
        metrics.compaction(kind: task.kind.rawValue, micros: micros, read: result.bytesRead, written: result.bytesWritten)
        metrics.uploaded(.compaction, ssts: task.kind == .trivialMove ? 0 : result.outputs.count,
                         bytes: task.kind == .trivialMove ? 0 : result.outputs.reduce(0) { $0 + $1.fileSize })
        logger.debug("compaction task done", metadata: StateStore.describe(task, result, micros: micros))
        if idle { await warmOutputs(result.outputs) }
        return result
    }

    /// Log metadata of one compaction task (the store's and a standalone compactor's).
    static func describe(_ task: CompactionTask, _ result: CompactionResult, micros: UInt64) -> Logger.Metadata {
        ["floe.compaction.kind": .string(task.kind.rawValue),
         "floe.compaction.inputs": .int(task.inputs.reduce(0) { $0 + $1.ssts.count }),
         "floe.compaction.target_level": .int(task.targetLevel),
         "floe.compaction.outputs": .int(result.outputs.count),
         "floe.compaction.read_bytes": .int(result.bytesRead),
         "floe.compaction.written_bytes": .int(result.bytesWritten),
         "floe.compaction.ms": .stringConvertible(Double(micros / 100) / 10)]
    }

    /// Reads the outputs that the prefill could not place back into the block cache,
    /// now that the install evicted the blocks of the inputs they replace, a whole
    /// file at a time while it fits in the free room. The prefill only uses room that
    /// is free while the inputs are still cached, so a merge rewriting most of a
    /// warm store (L0 onto the base after a restart) left its later outputs cold, and
    /// the reads right after it missed on them. Best effort: errors stop it.
    private func warmOutputs(_ outputs: [SstInfo]) async {
        let cache = reader.blockCache
        guard cache.capacityBytes > 0 else { return }
        for info in outputs {
            guard !state.withLock({ $0.closed }), currentVersion.allSsts.contains(where: { $0.id == info.id }) else { return }
            guard let meta = try? await reader.meta(info), meta.blockCount > 0,
                  !cache.contains(BlockKey(sst: info.id, block: 0)) else { continue }
            // Decoded blocks outgrow the raw key and value bytes by their entry headers and epochs.
            let need = Int(info.rawBytes) / 4 * 5 + meta.blockCount * 128
            let s = cache.stats
            guard s.usageBytes + need <= s.capacityBytes else { return }
            var next = 0
            while next < meta.blockCount {
                guard let blocks = try? await reader.readAhead(meta, from: next, maxBytes: 1 << 20, fillCache: true) else { return }
                next += blocks.count
            }
        }
    }

    /// Compacts in the caller's task until no task is due, L0 is empty (an idle
    /// tree keeps nothing overlapping in L0) and no background task is running.
    /// Returns the number of tasks this call ran.
    @discardableResult
    public func compactUntilQuiescent(maxTasks: Int = 100_000) async throws -> Int {
        var n = 0
        while n < maxTasks {
            if try await compactOnce(idle: true) != nil { n += 1; continue }
            let busy = state.withLock { !$0.compactionBusy.isEmpty }
            if !busy { break }
            try await Task.sleep(for: .milliseconds(2))
        }
        return n
    }

    /// One object GC pass: deletes SSTs that no current, pinned or pending version
    /// references and that have been unreferenced for `graceSeconds` (default: the
    /// option). Uncommitted outputs of a standalone compactor are deleted only once
    /// its session has ended: when its lease (`SessionLease`) is older than the grace,
    /// this pass first appends an `expire` record for it, after which its commits are refused.
    /// Deletes in batches of up to 1,000 objects (`ObjectStore.delete(_:)`, one DeleteObjects
    /// request on S3); a failed batch ends the pass with its error, and the next pass
    /// deletes what is left.
    /// Throws `fenced` if another writer opened the store, `closed`, I/O errors.
    @discardableResult
    public func collectGarbage(graceSeconds: Double? = nil) async throws -> GarbageReport {
        // One moment for everything: an SST is then referenced by `v`, in flight
        // (a sync's upload, a compaction's output) and protected, or written after
        // `now` and so within any grace. Taking the in-flight sets or `now` after
        // `catchUp` let a sync or compaction that ran meanwhile lose fresh SSTs
        // to a zero grace: no longer protected, and not yet in `latest`.
        let (v, retired, pending, busy, now) = try state.withLock { s in
            if s.closed { throw FloeError.closed }
            if let f = s.fenced { throw FloeError.fenced(f) }
            return (s.version, s.retired, s.uncommittedSynced, s.compactionBusy, PosixFileSystem.wallClockSeconds())
        }
        // Another process (a standalone compactor, or a writer that fenced this one) may have
        // moved the manifest on: everything the newest version references is live too.
        let latest = try await followManifest(from: v)
        let grace = graceSeconds ?? options.compaction.gcGraceSeconds
        let sessions = SessionGC(latest: latest, own: writerID, leases: try await SessionLease.renewals(in: objectStore),
                                 graceSeconds: grace, now: now)
        let live = v.referencedSsts.union(latest.referencedSsts)
        let protected = pins.referencedSsts().union(pending).union(busy)
            .union(try await ReaderLease.protectedSsts(in: objectStore, leaseSeconds: options.compaction.readerLeaseSeconds, now: now))
        let gc = ObjectGC(store: objectStore, failpoints: failpoints)
        let r = try await gc.collect(live: live, protected: protected, retiredAt: retired, graceSeconds: grace, now: now,
                                     sessions: sessions) { [self] ids in try await expireSessions(ids) }
        // Temp files of crashed local writes are never listed: swept here, an hour on.
        if let local = MeteredObjectStore.unwrap(objectStore) as? LocalObjectStore { _ = try? local.removeStaleTempFiles(olderThan: 3600, now: now) }
        state.withLock { s in
            for p in r.deleted { if let id = ObjectGC.sstID(p) { s.retired.removeValue(forKey: id) } }
            s.gcDeletedObjects += UInt64(r.deleted.count)
            s.gcDeletedBytes += r.deletedBytes
        }
        metrics.gcPasses.increment()
        metrics.gcDeletedObjects.increment(by: r.deleted.count)
        metrics.gcDeletedBytes.increment(by: Int64(clamping: r.deletedBytes))
        StateStore.logGC(logger, r, grace: grace)
        return GarbageReport(deletedObjects: r.deleted.count, deletedBytes: r.deletedBytes, keptObjects: r.kept)
    }

    /// Reads the newest version and installs it, so that a writer that only reads
    /// moves off SSTs a standalone compactor retired before that compactor's grace
    /// runs out. Throws `fenced` (and marks this writer fenced) if another writer opened the store.
    @discardableResult
    func followManifest(from v: Version? = nil) async throws -> Version {
        switch mode {
        case .checkpoint: return currentVersion
        case .follower:
            _ = try await refresh()
            return currentVersion
        case .writer: break
        }
        let latest = try await manifest.catchUp(v ?? currentVersion)
        install(latest)
        if latest.writerID != writerID {
            throw fence("writer \(latest.writerID) opened the store after this writer (\(writerID))")
        }
        return latest
    }

    /// Ends the compactor sessions `ids` with one `expire` record; returns the version after it.
    func expireSessions(_ ids: [UInt64]) async throws -> Version? {
        logger.debug("ending compactor sessions whose lease ran out", metadata: ["floe.sessions": .string("\(ids)")])
        return try await commitLock.withLock {
            let v = try await manifest.commit(from: currentVersion, make: { [self] base in
                guard base.writerID == writerID else { throw fence("writer \(base.writerID) opened the store after this writer (\(writerID))") }
                return VersionDelta.expire(ids, on: base, by: writerID)
            }, onNewer: { [self] newer in install(newer); return nil }, lost: { [self] why in fence(why) })
            install(v)
            for id in ids where !v.compactors.contains(id) { try? await objectStore.delete(SessionLease.path(id)) }
            return v
        }
    }

    /// Write stall: past `l0SlowdownSubLevels` a commit is delayed a little per extra
    /// sub-level; at `l0StopSubLevels` it waits for background compaction. A failed
    /// compaction (of any lane) surfaces as `compactionFailed` instead of a hang; a
    /// fenced writer throws `fenced` at once (its lanes have stopped, so its L0 would
    /// never shrink), a closed one `closed`. While it runs it counts as in flight, so
    /// `waitForWriteBudget` waits for the commit that called it instead of giving up.
    /// Returns microseconds stalled.
    func waitForL0Room() async throws -> UInt64 {
        let c = options.compaction
        guard c.background else { return 0 }
        state.withLock { $0.inFlight += 1 }
        defer { state.withLock { $0.inFlight -= 1 } }
        let t0 = StateStore.monotonicMicros()
        var slowed = false, stopped = false
        while true {
            let (l0, err, closed, fenced) = state.withLock { ($0.version.l0.count, $0.compactionError, $0.closed, $0.fenced) }
            if closed { throw FloeError.closed }
            if let fenced { throw FloeError.fenced(fenced) }
            if l0 >= c.l0StopSubLevels {
                if let err { throw FloeError.compactionFailed(err.description) }
                stopped = true
                try await Task.sleep(for: .milliseconds(1))
                continue
            }
            if l0 >= c.l0SlowdownSubLevels && !slowed {
                slowed = true
                try await Task.sleep(for: .microseconds(500 * (l0 - c.l0SlowdownSubLevels + 1)))
                continue
            }
            break
        }
        let stalled = StateStore.monotonicMicros() - t0
        if stalled > 0 {
            state.withLock { s in
                s.stallMicros += stalled
                s.worstStallMicros = max(s.worstStallMicros, stalled)
            }
        }
        // Only a commit that really waited (slowed down or stopped) is a stall to report.
        if slowed || stopped {
            metrics.stallSeconds.recordMicroseconds(stalled)
            logger.debug("write stall: commit waited for L0 room", metadata: [
                "floe.stall.ms": .stringConvertible(Double(stalled / 100) / 10), "floe.l0.sublevels": .int(currentVersion.l0.count),
                "floe.stall.stopped": .stringConvertible(stopped),
            ])
        }
        return stalled
    }

    /// Starts the background workers: `compaction.maxConcurrentTasks` (one by
    /// default) run whatever compaction is most urgent, the first also runs GC every
    /// interval; with `compaction.intraL0Lane` one more runs only intra-L0 merges
    /// while the base level is busy. Picks never overlap: inputs of running tasks are busy.
    func startBackgroundWork() {
        var tasks: [Task<Void, Never>] = []
        let lanes = options.compaction.maxConcurrentTasks + (options.compaction.intraL0Lane ? 1 : 0)
        for worker in 0..<lanes {
            // The loop reaches the store through a weak reference only, so an
            // abandoned store is freed (and its loops end) without `close()`.
            let store: @Sendable () -> StateStore? = { [weak self] in self }
            let intraL0Only = worker >= options.compaction.maxConcurrentTasks
            // Each lane on a thread of its own, off the cooperative pool (see
            // DedicatedThreadExecutor); on the pool if the thread cannot be made.
            let thread = try? DedicatedThreadExecutor(name: "compaction lane \(worker)", nice: options.compaction.threadNice)
            tasks.append(Task.detached(executorPreference: thread, priority: .utility) {
                await StateStore.backgroundLoop(store, lane: worker, runsGC: worker == 0, intraL0Only: intraL0Only)
                // The loop ends at close, fencing or when the store was dropped: the thread goes with it.
                thread?.shutdown()
            })
        }
        self.worker.withLock { $0 = tasks }
    }

    private static func backgroundLoop(_ weakStore: @Sendable () -> StateStore?, lane: Int, runsGC: Bool, intraL0Only: Bool) async {
        var lastGC = StateStore.monotonicMicros()
        var lastFollow = lastGC
        var backoffMillis = 1
        while !Task.isCancelled {
            guard let store = weakStore() else { return }
            if store.isFenced { return }
            var didWork = false
            do {
                // Idle once commits have paused for a second: a deep L0 is merged into one
                // sub-level. Settled once they paused for `settleSeconds` (counted from open
                // too): then L0 leftovers go down as well.
                let now = StateStore.monotonicMicros(), last = store.lastCommitMicros.load(ordering: .relaxed)
                let idle = StateStore.commitsPaused(now: now, lastCommit: last)
                let settled = StateStore.commitsPaused(now: now, lastCommit: max(last, store.openedMicros),
                                                       forMicros: UInt64(store.options.compaction.settleSeconds * 1e6))
                didWork = try await store.compactOnce(idle: idle && !intraL0Only, settled: settled && !intraL0Only,
                                                      intraL0Only: intraL0Only) != nil
                store.state.withLock { $0.setCompactionError(nil, lane: lane) }
                backoffMillis = 1
            } catch FloeError.closed {
                return
            } catch FloeError.staleCompaction {
                // Lost a race (a standalone compactor took the inputs first): not a failure,
                // and a commit stalled on L0 must not give up over it. Pick again after the poll.
                store.state.withLock { $0.setCompactionError(nil, lane: lane) }
                backoffMillis = 1
            } catch let e as FloeError {
                store.laneFailed(e, lane: lane)
                backoffMillis = min(1000, backoffMillis * 2)
            } catch {
                store.laneFailed(.io(path: "compaction", reason: "\(error)"), lane: lane)
                backoffMillis = min(1000, backoffMillis * 2)
            }
            if lane == 0 { store.publishMetrics(force: false) }
            let now = StateStore.monotonicMicros()
            // Follow the manifest at least every second: other processes' compactions
            // retire SSTs this writer still reads until it installs their version.
            if runsGC && now - lastFollow >= min(1_000_000, UInt64(store.options.compaction.gcIntervalSeconds * 1e6)) {
                lastFollow = now
                _ = try? await store.followManifest()
            }
            if runsGC && Double(now - lastGC) >= store.options.compaction.gcIntervalSeconds * 1e6 {
                lastGC = now
                _ = try? await store.collectGarbage()
            }
            if !didWork {
                // Nothing due and no commits for a while: pooled SST buffers are idle memory.
                let paused = StateStore.commitsPaused(now: now, lastCommit: store.lastCommitMicros.load(ordering: .relaxed))
                if paused {
                    store.sstBuffers.trim()
                    store.memtableRecycling.trim()
                }
                // Nothing due: poll every 5 ms while commits flow, so a commit makes the next
                // pick due within a few milliseconds. Once they paused, every 100 ms: each
                // wake-up takes a core from readers (lanes have threads of their own), and
                // the idle and settle steps are seconds apart anyway.
                let pollMillis = paused ? 100 : 5
                store.idlePolls.add(1, ordering: .relaxed)
                try? await Task.sleep(for: .milliseconds(backoffMillis > 1 ? backoffMillis : pollMillis))
            }
        }
    }

    /// Records a background lane's failure; logs it (at info: nothing else reports a
    /// background failure until a commit stalls on it) when it is not the lane's last error again.
    private func laneFailed(_ e: FloeError, lane: Int) {
        let repeated = state.withLock { s in
            defer { s.setCompactionError(e, lane: lane) }
            return s.laneErrors[lane] == e
        }
        guard !repeated else { return }
        noteDamage(e)
        logger.info("background compaction failed; retrying with backoff",
                    metadata: ["floe.lane": .int(lane), "floe.error": .string(e.description)])
    }

    /// Logs one GC pass: at debug when it deleted something, each object at trace.
    static func logGC(_ logger: Logger, _ r: ObjectGC.Report, grace: Double) {
        guard !r.deleted.isEmpty else {
            logger.trace("gc pass: nothing to delete", metadata: ["floe.gc.kept": .int(r.kept)])
            return
        }
        logger.debug("gc pass deleted unreferenced objects", metadata: [
            "floe.gc.deleted": .int(r.deleted.count), "floe.gc.deleted_bytes": .int(r.deletedBytes),
            "floe.gc.kept": .int(r.kept), "floe.gc.grace_seconds": .stringConvertible(grace),
        ])
        for p in r.deleted { logger.trace("gc deleted", metadata: ["floe.object": .string(p)]) }
    }

    /// Whether commits have paused for over `forMicros` (a second). A commit on another thread
    /// can store a time later than `now` (read before the load), so this compares
    /// instead of subtracting: `now - lastCommit` traps on UInt64 underflow.
    static func commitsPaused(now: UInt64, lastCommit: UInt64, forMicros: UInt64 = 1_000_000) -> Bool {
        now > lastCommit && now - lastCommit > forMicros
    }

    static func monotonicMicros() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }
}

extension StateStore.State {
    /// Records the outcome of a background lane's last compaction attempt. Each lane
    /// clears only its own error: another lane that succeeds (or finds nothing due)
    /// must not hide a failing lane from a commit stalled on L0. `compactionError`
    /// is the newest error of a lane whose last attempt failed, nil when none did.
    mutating func setCompactionError(_ error: FloeError?, lane: Int) {
        if let error {
            laneErrors[lane] = error
            compactionError = error
        } else if laneErrors.removeValue(forKey: lane) != nil {
            compactionError = laneErrors.min { $0.key < $1.key }?.value
        }
    }
}

/// Ids handed out during one compaction, so they can be unmarked however it ends.
final class IDLog: Sendable {
    private let list = Lock<[UInt64]>([])
    func append(_ id: UInt64) { list.withLock { $0.append(id) } }
    var ids: [UInt64] { list.withLock { $0 } }
}

/// What one object GC pass did.
public struct GarbageReport: Sendable, Equatable {
    public var deletedObjects: Int
    public var deletedBytes: UInt64
    public var keptObjects: Int
}

#if canImport(Glibc)
import Glibc
#endif
