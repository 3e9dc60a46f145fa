/// Many point reads of one table at one epoch: `StateStore.getMany` and
/// `Snapshot.getMany`.
///
/// The version (and, above the committed epoch, this writer's memtables) is
/// resolved once for the whole batch instead of once per key: a join probing a
/// few hundred keys pays for one look at the store's state, one watermark lookup
/// and one epoch check.
extension StateStore {
    /// The values of `keys` in `table` at `epoch`, in the order of `keys` (nil for a
    /// key absent or deleted; a key given twice is answered twice). Visibility,
    /// epoch checks and errors exactly as for `get`; an empty `keys` still checks
    /// the epoch. Runs on the caller's executor, like `get`.
    nonisolated(nonsending) public func getMany(_ table: TableID, keys: [[UInt8]], epoch: Epoch) async throws -> [[UInt8]?] {
        // A committed epoch of the retained window: one version for every key, no lock.
        if !closedForGets.load(ordering: .relaxed) {
            let committed: Version? = published.withCurrent { v in
                epoch <= v.committedEpoch && epoch >= oldestRetained(v) ? v : nil
            }
            if let v = committed {
                let hidden = v.watermark(table.raw, at: epoch)
                var out: [[UInt8]?] = []
                out.reserveCapacity(keys.count)
                for key in keys {
                    if let w = hidden, w.hides(key) { out.append(nil); continue }
                    let probe = PointReader.probeCached(reader: reader, version: v, memtables: [], table: table, key: key, epoch: epoch)
                    if case let .answer(value) = probe {
                        out.append(value)
                    } else {
                        out.append(try await finishGet(probe, v, table, key, epoch))
                    }
                }
                return out
            }
        }
        // A pinned older epoch or this writer's own epochs: one view, pinned for the batch.
        let (v, mems, pin, hidden, spilled) = try readView(epoch, table: table.raw)
        defer { pin.release() }
        // The point-read path takes the first version it meets, which is the newest only
        // while the memtables come in non-increasing epoch order and no spilled run lies
        // below them; otherwise each key goes through the merge, as `get` does.
        var ordered = spilled.isEmpty
        for (a, b) in zip(mems, mems.dropFirst()) where a.epoch < b.epoch { ordered = false }
        var out: [[UInt8]?] = []
        out.reserveCapacity(keys.count)
        for key in keys {
            if let w = hidden, w.hides(key) { out.append(nil); continue }
            if ordered {
                out.append(try await PointReader.get(reader: reader, version: v, memtables: mems, table: table, key: key, epoch: epoch))
            } else {
                var successor = key
                successor.append(0)
                let one = ScanResult(reader: reader, table: table.raw, from: key, to: successor, epoch: epoch,
                                     memtables: mems, runs: spilled + v.l0 + v.levels, pin: pin.duplicate(), hidden: hidden)
                var rows = one.makeAsyncIterator()
                out.append(try await rows.next()?.value)
            }
        }
        return out
    }
}

extension Snapshot {
    /// The values of `keys` at the snapshot's epoch, in the order of `keys` (nil for
    /// absent or deleted). Errors as for `get`. Runs on the caller's executor.
    nonisolated(nonsending) public func getMany(_ table: TableID, keys: [[UInt8]]) async throws -> [[UInt8]?] {
        let v = pin.version
        let hidden = v.watermark(table.raw, at: epoch)
        var out: [[UInt8]?] = []
        out.reserveCapacity(keys.count)
        for key in keys {
            if let w = hidden, w.hides(key) { out.append(nil); continue }
            out.append(try await PointReader.get(reader: reader, version: v, memtables: [], table: table, key: key, epoch: epoch))
        }
        return out
    }
}
