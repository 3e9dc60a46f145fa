import Logging
import Synchronization

/// The read path: the view of an epoch a read takes (version, own memtables, pin),
/// point reads, scans and snapshots.
extension StateStore {
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
                    return (v, [], .some(e.kind == ValueKind.delete ? nil : m.value(of: e)))
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
                          memtables: mems, runs: spilled.isEmpty ? v.scanRuns : spilled + v.scanRuns, pin: pin, hidden: hidden)
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
}
