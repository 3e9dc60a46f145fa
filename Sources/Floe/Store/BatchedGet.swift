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
        // A pinned older epoch or this writer's own epochs: one look at the state under
        // the store's lock. As in `get`, the open memtables are looked up in place (a
        // frozen copy would make the writer's next write copy the memtable).
        let view: (v: Version, sealed: [FrozenMemtable], answers: [[UInt8]??])? = try state.withLock { s in
            if s.closed { throw FloeError.closed }
            let v = s.version
            try checkRetained(epoch, v)
            // Spilled parts of own epochs: the first hit on the point path need not be the
            // newest version, so these reads go through the merge (below).
            if epoch > v.committedEpoch, s.spilled.contains(where: { $0.epoch <= epoch }) || s.spilling.contains(where: { $0.epoch <= epoch }) {
                return nil
            }
            let hidden = StateStore.watermark(s, table.raw, at: epoch)
            let own = epoch > v.committedEpoch
            // .some(value or nil): answered here; nil: read on from the sealed memtables and SSTs.
            var answers = [[UInt8]??](repeating: nil, count: keys.count)
            for (i, key) in keys.enumerated() {
                if let w = hidden, w.hides(key) { answers[i] = .some(nil); continue }
                guard own else { continue }
                for m in s.open.reversed() where m.epoch <= epoch {
                    if let e = key.withUnsafeBytes({ m.lookup(table: table.raw, key: $0) }) {
                        answers[i] = .some(e.kind == ValueKind.delete ? nil : m.value(of: e))
                        break
                    }
                }
            }
            let sealed = own ? s.sealed.reversed().filter { $0.mem.epoch <= epoch }.map(\.mem) : []
            return (v, sealed, answers)
        }
        var out: [[UInt8]?] = []
        out.reserveCapacity(keys.count)
        guard let view else {
            // One pinned view with the spilled runs; each key through the merge, as `get` does.
            let (v, mems, pin, hidden, spilled) = try readView(epoch, table: table.raw)
            defer { pin.release() }
            for key in keys {
                if let w = hidden, w.hides(key) { out.append(nil); continue }
                var successor = key
                successor.append(0)
                let one = ScanResult(reader: reader, table: table.raw, from: key, to: successor, epoch: epoch,
                                     memtables: mems, runs: spilled.isEmpty ? v.scanRuns : spilled + v.scanRuns, pin: pin.duplicate(), hidden: hidden)
                var rows = one.makeAsyncIterator()
                out.append(try await rows.next()?.value)
            }
            return out
        }
        for (key, answer) in zip(keys, view.answers) {
            if let answer { out.append(answer); continue }
            let probe = PointReader.probeCached(reader: reader, version: view.v, memtables: view.sealed, table: table, key: key, epoch: epoch)
            if case let .answer(value) = probe {
                out.append(value)
            } else {
                out.append(try await finishGet(probe, view.v, table, key, epoch))
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
