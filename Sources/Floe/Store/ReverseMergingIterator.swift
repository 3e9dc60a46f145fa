/// The backward merge of a reverse scan: the rows of a `ScanResult` in descending
/// key order, streamed.
///
/// Every source of the scan (the memtables, spilled runs, L0 sub-levels and levels
/// it captured, in the same order as the forward merge) is positioned at its last
/// key below the upper bound and read backwards (`MemtableIterator.prev`,
/// `SstRunReverseIterator`); a `ReverseMergeHeap` yields their entries in
/// descending full-key order. Epochs descend in full-key order, so backwards the
/// versions of one user key come oldest first: the merge keeps a copy of the last
/// version at or below the read epoch seen for the key being decided (newer ones
/// are skipped), and when the next user key begins, the copy is a row if
/// `ScanResult.shows` says so, the same test (tombstones, table watermark) the
/// forward merge applies. The scan's lower bound is where it ends: the forward
/// scan's start, raised to a whole-key watermark by `ScanResult.init`.
///
/// Memory: the key being decided and one value, in buffers reused from row to row.
///
/// `@unchecked Sendable`: one owner calls it one step at a time (`ReverseScan.rows`),
/// as `MergingIterator`; it crosses executors only to finish a block load.
final class ReverseMergingIterator: @unchecked Sendable {
    let scan: ScanResult
    // Hot per-row state of a single-owner iterator: see `MergingIterator`.
    @exclusivity(unchecked) private var merge = ReverseMergeHeap()
    @exclusivity(unchecked) private var started = false
    @exclusivity(unchecked) private var finished = false
    @exclusivity(unchecked) private var blocked = false
    /// Table + user key being decided (`current[0..<currentLength]`); -1 for none.
    @exclusivity(unchecked) private var current = [UInt8](repeating: 0, count: 64)
    @exclusivity(unchecked) private var currentLength = -1
    /// The newest version at or below the epoch seen so far of the current key.
    @exclusivity(unchecked) private var hasCandidate = false
    @exclusivity(unchecked) private var candidateKind: UInt8 = 0
    @exclusivity(unchecked) private var candidateValue: [UInt8] = []
    /// A row was returned (it is `current` with `candidateValue`); the next step
    /// starts the key at the top of the heap. `ending`: that row was the last.
    @exclusivity(unchecked) private var rowPending = false
    @exclusivity(unchecked) private var ending = false

    init(_ scan: ScanResult) { self.scan = scan }

    /// Positions every source at its last key below the scan's upper bound (idempotent).
    /// Throws as `SstReader` reads (corruption, missing object).
    func start() async throws {
        if started { return }
        started = true
        let table = scan.table
        // The least full key above every key of the range: the upper bound at the
        // newest epoch, or the next table's first key; nil past the last table.
        let target: [UInt8]? = scan.to.map { FullKey.encode(table: TableID(table), userKey: $0, epoch: .max) }
            ?? (table == .max ? nil : FullKey.encode(table: TableID(table + 1), userKey: [], epoch: .max))
        for m in scan.memtables {
            let it = MemtableIterator(m)
            it.seekBefore(table: table, userKey: scan.to)
            merge.add(.memReverse(it))
        }
        for run in scan.runs {
            let it = SstRunReverseIterator(reader: scan.reader, run: run)
            try await it.seekBefore(target)
            merge.add(.runReverse(it))
        }
    }

    /// Moves to the next row backwards as far as cached blocks allow, without
    /// suspending: `.blocked` means `finishBlocked()` must run first. Requires `start()`.
    func stepSync() -> MergingIterator.Step {
        var m = ReverseMergeHeap()
        swap(&m, &merge)
        defer { swap(&m, &merge) }
        return nextRow(&m)
    }

    /// Whether the current key's candidate is a row.
    @inline(__always)
    private func decided() -> Bool {
        guard hasCandidate else { return false }
        return current.withUnsafeBytes { c in
            scan.shows(kind: candidateKind, userKey: UnsafeRawBufferPointer(rebasing: c[4..<currentLength]))
        }
    }

    @inline(__always)
    private func nextRow(_ m: inout ReverseMergeHeap) -> MergingIterator.Step {
        if finished { return .end }
        if rowPending {
            rowPending = false
            currentLength = -1
            hasCandidate = false
            if ending { finished = true; return .end }
        }
        let table = scan.table, epoch = scan.epoch
        while !m.isEmpty {
            let verdict: Int = m.withTopEntry { k, kind, v in
                // 0 past the range, 1 consumed, 2 a new key begins after a decided row
                if FullKey.table(k) != table { return 0 }
                if scan.lowerBound.withUnsafeBytes({ FullKey.compareBytes(FullKey.userKey(k), $0) }) < 0 { return 0 }
                let prefix = FullKey.prefix(k)
                let same = currentLength == prefix.count && current.withUnsafeBytes {
                    FullKey.compareBytes(UnsafeRawBufferPointer(rebasing: $0[0..<prefix.count]), prefix) == 0
                }
                if !same {
                    if decided() { return 2 }
                    if current.count < prefix.count { current = [UInt8](repeating: 0, count: prefix.count * 2) }
                    current.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: prefix.baseAddress!, byteCount: prefix.count) }
                    currentLength = prefix.count
                    hasCandidate = false
                }
                // Older versions come first: a later one at or below the epoch replaces.
                if FullKey.epoch(k) <= epoch {
                    hasCandidate = true
                    candidateKind = kind
                    candidateValue.removeAll(keepingCapacity: true)
                    candidateValue.append(contentsOf: v)
                }
                return 1
            }
            if verdict == 0 { break }
            if verdict == 2 {
                rowPending = true
                return .row
            }
            if !m.advanceTopSync() { blocked = true; return .blocked }
        }
        if currentLength >= 0, decided() {
            rowPending = true
            ending = true
            return .row
        }
        finished = true
        return .end
    }

    /// Completes the block load that made `stepSync()` return `.blocked`.
    func finishBlocked() async throws {
        if blocked {
            blocked = false
            try await merge.finishAdvanceTop()
        }
    }

    /// Calls `body` with the current row's user key and value (valid only inside `body`).
    @inline(__always)
    func withCurrentRow<R>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try current.withUnsafeBytes { c in
            try candidateValue.withUnsafeBytes { v in try body(UnsafeRawBufferPointer(rebasing: c[4..<currentLength]), v) }
        }
    }
}
