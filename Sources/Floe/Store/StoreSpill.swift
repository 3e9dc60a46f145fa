/// Epochs larger than memory: the unsealed epochs' memtables moved to SSTs before
/// their sync, readable by this writer only, committed with their epoch.
extension StateStore {
    /// Moves the data of every unsealed epoch out of memory: each open memtable is
    /// frozen (still read from memory meanwhile), replaced by an empty one of the same
    /// epoch (keeping its table watermarks), built into SSTs and uploaded. The SSTs
    /// are kept from GC (as a sync's are) and named in no manifest until their epoch
    /// commits, so a crash leaves nothing of them visible: they are orphans GC collects.
    /// Returns whether anything was spilled or the budget has room again (another
    /// spill freed it while this one waited), false when nothing is left to spill.
    /// One spill runs at a time.
    /// Throws object store errors (the memtables stay in memory, and the next spill or
    /// the epoch's sync uploads them), `fenced`, `closed`.
    func spillOpenEpochs() async throws -> Bool {
        try await spillLock.withLock {
            let taken: [FrozenMemtable]? = try state.withLock { s in
                if s.closed { throw FloeError.closed }
                if let f = s.fenced { throw FloeError.fenced(f) }
                // Another spill (or a sync) freed the memory while this one waited.
                if s.memoryUsed < options.memtableBudgetBytes { return nil }
                for i in s.open.indices where s.open[i].count > 0 {
                    let frozen = s.open[i].frozenCopy()
                    frozen.recycleWhenReleased(into: memtableRecycling)
                    s.memoryUsed += frozen.memoryBytes - s.open[i].memoryBytes
                    var fresh = MutableMemtable(epoch: frozen.epoch)
                    for w in s.open[i].watermarks { fresh.setWatermark(w) }
                    s.open[i] = fresh
                    s.spilling.append(frozen)
                }
                return s.spilling
            }
            guard let taken else { return true }
            for m in taken { try await uploadSpill(m) }
            return !taken.isEmpty
        }
    }

    /// Uploads what earlier spills of epochs <= `epoch` left in memory (a failed
    /// upload), after any spill running now: a sync must find every spilled part of
    /// its epochs uploaded.
    func finishSpills(upTo epoch: Epoch) async throws {
        let pending = state.withLock { s in s.spilling.contains { $0.epoch <= epoch } }
        guard pending || spillLock.isLocked else { return }
        try await spillLock.withLock {
            for m in state.withLock({ s in s.spilling.filter { $0.epoch <= epoch } }) { try await uploadSpill(m) }
        }
    }

    /// Builds and uploads one spilled memtable (under `spillLock`); on success it
    /// becomes a spilled run and its memory is released.
    private func uploadSpill(_ m: FrozenMemtable) async throws {
        var outputs = MemtableFlush.build([m], options: options.sst, buffers: sstBuffers) { nextSstID() }
        let infos = outputs.map(\.info)
        state.withLock { s in for info in infos { s.uncommittedSynced.insert(info.id) } }
        do {
            for i in outputs.indices {
                try failpoints.hit(.syncBeforeSstPut)
                try await objectStore.put(infos[i].path, outputs[i].bytes)
                sstBuffers.give(outputs[i].takeBytes())
            }
        } catch {
            state.withLock { s in s.uncommittedSynced.subtract(infos.map(\.id)) }
            throw error
        }
        state.withLock { s in
            guard let i = s.spilling.firstIndex(where: { $0 === m }) else { return }
            s.spilling.remove(at: i)
            s.memoryUsed -= m.memoryBytes
            s.spills += 1
            // The store may have closed meanwhile: then the SSTs are orphans for GC.
            if !s.closed, m.epoch > s.version.committedEpoch, !infos.isEmpty { s.spilled.append(SpilledRun(epoch: m.epoch, ssts: infos)) }
        }
        let bytes = infos.reduce(0) { $0 + $1.fileSize }
        metrics.uploaded(.spill, ssts: infos.count, bytes: bytes)
        logger.debug("spilled an unsealed epoch to SSTs (memtable budget spent)", metadata: [
            "floe.epoch": .int(m.epoch), "floe.ssts": .int(infos.count), "floe.bytes": .int(bytes),
        ])
    }
}
