import Logging
import Synchronization

/// The write path: puts, deletes, batches and table watermarks into the open
/// epochs' memtables, checked against the epoch rules and the entry limits.
extension StateStore {
    private static func checkWritable(_ s: State, _ epoch: Epoch) throws {
        if s.closed { throw FloeError.closed }
        if let f = s.fenced { throw FloeError.fenced(f) }
        if epoch <= s.version.committedEpoch { throw FloeError.epochCommitted(epoch: epoch, committed: s.version.committedEpoch) }
        if epoch <= s.sealedThrough { throw FloeError.epochSealed(epoch: epoch, sealed: s.sealedThrough) }
    }

    /// The open memtable of `epoch`, created in epoch order if missing. Any unsealed
    /// epoch takes writes, also below the newest one written: the operators of a
    /// pipeline pass a barrier at different times, so one may still write epoch E
    /// while another has moved on to E + 1 (as Hummock's shared buffer allows).
    private static func memtableIndex(_ s: inout State, _ epoch: Epoch, _ recycling: MemtableRecycling) -> Int {
        if let last = s.open.last, last.epoch == epoch { return s.open.count - 1 }
        var i = s.open.count
        while i > 0, s.open[i - 1].epoch > epoch { i -= 1 }
        if i > 0, s.open[i - 1].epoch == epoch { return i - 1 }
        s.open.insert(MutableMemtable(epoch: epoch, expected: s.lastSealedShape, recycling: recycling), at: i)
        s.latestWritten = max(s.latestWritten, epoch)
        return i
    }

    /// The longest key a write accepts: 16 MiB.
    public static let maxKeyBytes = 16 << 20
    /// The longest value a write accepts: 1 GiB. Memtable entries hold lengths in 32
    /// bits, and a block holding one entry (compressed whole) must stay below 2 GiB.
    public static let maxValueBytes = 1 << 30

    /// Throws `invalidArgument` for a key or value longer than the limits above.
    static func checkEntrySize(key: Int, value: Int) throws {
        if key > maxKeyBytes { throw FloeError.invalidArgument("key of \(key) bytes is longer than the limit of \(maxKeyBytes) bytes") }
        if value > maxValueBytes {
            throw FloeError.invalidArgument("value of \(value) bytes is longer than the limit of \(maxValueBytes) bytes")
        }
    }

    /// Writes `value` for `key` in `table` at `epoch`.
    /// Throws `invalidArgument` for a key over `maxKeyBytes` or a value over
    /// `maxValueBytes`, `epochCommitted`, `epochSealed` (any epoch above the committed
    /// one that is not sealed takes writes, in any order), `memoryBudgetExceeded` (once the memtable budget is spent),
    /// `fenced` or `closed`; a rejected write changes nothing.
    public func put(_ table: TableID, key: [UInt8], value: [UInt8], epoch: Epoch) throws {
        try apply(table.raw, key, ValueKind.put, value, epoch)
    }

    /// Deletes `key` in `table` at `epoch` (writes a tombstone). Errors as for `put`.
    public func delete(_ table: TableID, key: [UInt8], epoch: Epoch) throws {
        try apply(table.raw, key, ValueKind.delete, [], epoch)
    }

    private func apply(_ table: UInt32, _ key: [UInt8], _ kind: UInt8, _ value: [UInt8], _ epoch: Epoch) throws {
        try StateStore.checkEntrySize(key: key.count, value: value.count)
        let budget = options.memtableBudgetBytes
        try state.withLock { s in
            try StateStore.checkWritable(s, epoch)
            // Refused once the budget is spent, not when this write would cross it: that is
            // the test `waitForWriteBudget` waits on, so "wait, then retry" cannot spin on a
            // write that never fits. The write that crosses the budget overshoots it by its size.
            if s.memoryUsed >= budget { throw FloeError.memoryBudgetExceeded(used: s.memoryUsed, budget: budget) }
            let i = StateStore.memtableIndex(&s, epoch, memtableRecycling)
            s.memoryUsed += key.withUnsafeBytes { k in
                value.withUnsafeBytes { v in s.open[i].insert(table: table, key: k, kind: kind, value: v) }
            }
        }
    }

    /// Applies every operation of `batch` at `epoch`, all or nothing. Errors as for `put`.
    public func write(_ batch: WriteBatch, epoch: Epoch) throws {
        guard !batch.isEmpty else { return }
        for op in batch.ops { try StateStore.checkEntrySize(key: op.keyLength, value: op.valueLength) }
        let budget = options.memtableBudgetBytes
        try state.withLock { s in
            try StateStore.checkWritable(s, epoch)
            // As for a single write: refused once the budget is spent.
            if s.memoryUsed >= budget { throw FloeError.memoryBudgetExceeded(used: s.memoryUsed, budget: budget) }
            let i = StateStore.memtableIndex(&s, epoch, memtableRecycling)
            var added = 0
            batch.arena.withUnsafeBytes { a in
                for op in batch.ops {
                    let k = UnsafeRawBufferPointer(rebasing: a[op.keyOffset..<(op.keyOffset + op.keyLength)])
                    let vs = op.keyOffset + op.keyLength
                    let v = UnsafeRawBufferPointer(rebasing: a[vs..<(vs + op.valueLength)])
                    added += s.open[i].insert(table: op.table, key: k, kind: op.kind, value: v)
                }
            }
            s.memoryUsed += added
        }
    }

    /// Sets a watermark of `table` at `epoch`: from `epoch` on, reads of `table` no
    /// longer see any key whose bytes after the first `prefixLength` sort below `key`
    /// (see `TableWatermark`), and compaction drops those keys once no retained
    /// epoch below `epoch` can be read. It commits with `epoch`, like a write; a
    /// second call for the same table and epoch replaces the first. Reads at
    /// epochs below `epoch` (snapshots, the retention window) still see the keys.
    ///
    /// Throws `invalidArgument` when the watermark would fall below one of an
    /// earlier epoch (or rise above one of a later epoch) of the table, changes the
    /// table's prefix length, or is negative or too long; errors as for `put`
    /// otherwise. A rejected call changes nothing.
    public func setTableWatermark(_ table: TableID, key: [UInt8], prefixLength: Int = 0, epoch: Epoch) throws {
        guard prefixLength >= 0, prefixLength <= StateStore.maxKeyBytes else {
            throw FloeError.invalidArgument("watermark prefix length \(prefixLength) outside 0...\(StateStore.maxKeyBytes)")
        }
        try StateStore.checkEntrySize(key: key.count, value: 0)
        let w = TableWatermark(table: table, prefixLength: prefixLength, key: key, epoch: epoch)
        try state.withLock { s in
            try StateStore.checkWritable(s, epoch)
            var others = s.version.watermarks.filter { $0.tableRaw == table.raw }
            for m in s.sealed { others += m.mem.watermarks.filter { $0.tableRaw == table.raw } }
            for m in s.open where m.epoch != epoch { others += m.watermarks.filter { $0.tableRaw == table.raw } }
            for o in others {
                if o.prefixLength != prefixLength {
                    throw FloeError.invalidArgument("\(table) has watermarks with prefix length \(o.prefixLength), not \(prefixLength)")
                }
                let c = o.key.withUnsafeBytes { a in key.withUnsafeBytes { FullKey.compareBytes(a, $0) } }
                if (o.epoch < epoch && c > 0) || (o.epoch > epoch && c < 0) {
                    throw FloeError.invalidArgument("watermark of \(table) at epoch \(epoch) does not rise monotonically with the one at epoch \(o.epoch)")
                }
            }
            let i = StateStore.memtableIndex(&s, epoch, memtableRecycling)
            s.open[i].setWatermark(w)
        }
    }
}
