/// The rows of one table in `[from, to)` as seen at one epoch, in key order.
///
/// Streaming: iteration loads SST blocks lazily through the block cache and
/// never materialises the range. The sequence pins the version it was created
/// from, so concurrent commits do not change what it yields. Iterating twice
/// reads the range twice. Errors (corruption, missing object) are thrown from `next()`.
public struct ScanResult: AsyncSequence, Sendable {
    public typealias Element = (key: [UInt8], value: [UInt8])

    let reader: SstReader
    let table: UInt32
    let from: [UInt8]
    let to: [UInt8]?
    let epoch: Epoch
    let memtables: [FrozenMemtable]
    let runs: [[SstInfo]]
    let pin: VersionPin?

    public func makeAsyncIterator() -> Iterator {
        Iterator(MergingIterator(self))
    }

    /// Visits every row with borrowed bytes instead of allocating arrays: the fast
    /// path for full scans. `body` returns false to stop early. The buffers are
    /// valid only during the call. Errors as for iteration.
    public func forEachRow(_ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool) async throws {
        let it = MergingIterator(self)
        while try await it.step() {
            guard try it.withCurrentRow(body) else { return }
        }
    }

    public struct Iterator: AsyncIteratorProtocol {
        let merge: MergingIterator
        init(_ m: MergingIterator) { merge = m }
        public mutating func next() async throws -> Element? {
            try await merge.next()
        }
    }
}

/// K-way merge over memtables and sorted runs with MVCC resolution: for each
/// user key the newest version at or below the read epoch wins; tombstones hide the key.
final class MergingIterator {
    private let scan: ScanResult
    private var merge = MergeHeap()
    private var started = false
    private var finished = false
    private var lastPrefix: [UInt8] = []
    private var haveLast = false

    init(_ scan: ScanResult) { self.scan = scan }

    private func start() async throws {
        started = true
        var target = [UInt8]()
        scan.from.withUnsafeBytes { FullKey.encode(table: TableID(scan.table), userKey: $0, epoch: .max, into: &target) }
        for m in scan.memtables {
            let it = MemtableIterator(m)
            it.seek(table: scan.table, userKey: scan.from)
            merge.add(.mem(it))
        }
        for run in scan.runs {
            let it = SstRunIterator(reader: scan.reader, run: run)
            try await it.seek(target)
            merge.add(.run(it))
        }
    }

    /// Set after a row was returned: its source moves past it on the next step,
    /// so the row's bytes stay valid until then.
    private var rowPending = false

    /// Positions on the next visible row (newest version <= the epoch, not a
    /// tombstone, inside the bounds). Returns false at the end. Allocates nothing per entry.
    func step() async throws -> Bool {
        if finished { return false }
        if !started { try await start() }
        if rowPending {
            rowPending = false
            if !merge.advanceTopSync() { try await merge.finishAdvanceTop() }
        }
        while let src = merge.top {
            let key = src.key
            let (done, visible, sameAsLast): (Bool, Bool, Bool) = key.withUnsafeBytes { k in
                if FullKey.table(k) != scan.table { return (true, false, false) }
                if let to = scan.to, to.withUnsafeBytes({ FullKey.compareBytes(FullKey.userKey(k), $0) }) >= 0 { return (true, false, false) }
                let same = haveLast && lastPrefix.withUnsafeBytes { FullKey.compareBytes($0, FullKey.prefix(k)) == 0 }
                return (false, FullKey.epoch(k) <= scan.epoch, same)
            }
            if done { break }
            if visible && !sameAsLast {
                lastPrefix.removeAll(keepingCapacity: true)
                key.withUnsafeBytes { lastPrefix.append(contentsOf: FullKey.prefix($0)) }
                haveLast = true
                if src.kind == Block.kindPut {
                    rowPending = true
                    return true
                }
            }
            if !merge.advanceTopSync() { try await merge.finishAdvanceTop() }
        }
        finished = true
        return false
    }

    /// Calls `body` with the current row's user key and value bytes (valid only inside `body`).
    @inline(__always)
    func withCurrentRow<R>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let src = merge.top!
        let value = src.value
        return try src.key.withUnsafeBytes { k in
            try value.withUnsafeBytes { v in try body(FullKey.userKey(k), v) }
        }
    }

    func next() async throws -> ScanResult.Element? {
        guard try await step() else { return nil }
        return withCurrentRow { k, v in (Array(k), Array(v)) }
    }
}
