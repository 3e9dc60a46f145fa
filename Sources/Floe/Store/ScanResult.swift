/// The rows of one table in `[from, to)` as seen at one epoch, in key order.
///
/// Streaming: iteration loads SST blocks lazily through the block cache and
/// never materialises the range. The sequence pins the version it was created
/// from, so concurrent commits do not change what it yields; the pin is its own
/// (a snapshot's scan included) and keeps the version's SSTs from object GC until
/// the sequence and every iterator made from it are gone. Iterating twice
/// reads the range twice. Errors (corruption, missing object) are thrown from `next()`.
public struct ScanResult: AsyncSequence, Sendable {
    public typealias Element = (key: [UInt8], value: [UInt8])

    let reader: SstReader
    let table: UInt32
    /// Where iteration starts: the lower bound, or a later key a seek moved it to.
    let from: [UInt8]
    /// The scan's own lower bound (raised to a whole-key watermark), which seeks
    /// keep: a seek below it starts there, and a reverse scan ends there.
    let lowerBound: [UInt8]
    let to: [UInt8]?
    let epoch: Epoch
    let memtables: [FrozenMemtable]
    let runs: [[SstInfo]]
    let pin: VersionPin?
    /// The table's watermark at `epoch`: rows it hides are skipped.
    let hidden: TableWatermark?

    /// `lowerBound` (the scan's own, when `from` is a seek's key) defaults to `from`.
    init(reader: SstReader, table: UInt32, from: [UInt8], to: [UInt8]?, epoch: Epoch, memtables: [FrozenMemtable],
         runs: [[SstInfo]], pin: VersionPin?, hidden: TableWatermark?, lowerBound: [UInt8]? = nil) {
        self.reader = reader
        self.table = table
        // A watermark over whole keys starts the scan where the visible keys start.
        func raised(_ k: [UInt8]) -> [UInt8] {
            if let h = hidden, h.prefixLength == 0, k.lexicographicallyPrecedes(h.key) { return h.key }
            return k
        }
        self.from = raised(from)
        self.lowerBound = raised(lowerBound ?? from)
        self.to = to
        self.epoch = epoch
        self.memtables = memtables
        self.runs = runs
        self.pin = pin
        self.hidden = hidden
    }

    /// Whether the newest version at or below the epoch of a key in the bounds, of
    /// `kind`, is a row of the scan: a put the table's watermark does not hide. What
    /// both merges (`MergingIterator`, `ReverseMergingIterator`) decide a key by.
    @inline(__always)
    func shows(kind: UInt8, userKey: UnsafeRawBufferPointer) -> Bool {
        guard kind == ValueKind.put else { return false }
        if let h = hidden, h.hides(userKey) { return false }
        return true
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(MergingIterator(self))
    }

    /// Visits every row with borrowed bytes instead of allocating arrays: the fast
    /// path for full scans. `body` returns false to stop early. The buffers are
    /// valid only during the call. Errors as for iteration.
    /// Runs on the caller's executor (`nonisolated(nonsending)`), so `body` may use
    /// the calling actor's state; it suspends only to read blocks no cache holds.
    nonisolated(nonsending)
    public func forEachRow(_ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool) async throws {
        let it = MergingIterator(self)
        if !it.startAtHand() { try await it.start() }
        // Rows inside cached blocks are visited without an async call each; only a
        // block or file change awaits.
        while try it.visitRows(body) == .blocked {
            try await it.finishBlocked()
        }
    }

    public struct Iterator: AsyncIteratorProtocol {
        @usableFromInline var merge: MergingIterator
        init(_ m: MergingIterator) { merge = m }
        /// As `next(isolation:)`: on the caller's executor, suspending only to read.
        @inlinable
        nonisolated(nonsending) public mutating func next() async throws -> Element? {
            if let row = merge.nextAtHand() { return row }
            return try await merge.next()
        }

        /// What `for try await` calls. A row whose block is cached (or already read
        /// ahead) is produced synchronously on the caller's executor; only a block or
        /// file that must be read suspends.
        ///
        /// `nonisolated(nonsending)` rather than an `isolated` parameter: a function
        /// isolated to its parameter switches to that actor on entry and its caller
        /// switches back, a check per row that cost as much as producing the row.
        /// The iterator is not `Sendable`, so it is always used from the caller's
        /// isolation, which is where this runs. Inlinable so the caller's loop runs
        /// the synchronous step inline.
        @inlinable
        nonisolated(nonsending) public mutating func next(isolation actor: (any Actor)?) async throws -> Element? {
            if let row = merge.nextAtHand() { return row }
            return try await merge.next()
        }
    }
}

/// K-way merge over memtables and sorted runs with MVCC resolution: for each
/// user key the newest version at or below the read epoch wins; tombstones hide the key.
///
/// `@unchecked Sendable`: an iterator has one owner that calls it one step at a time
/// (an `AsyncIteratorProtocol` iterator, or `forEachRow`'s local); it is passed to
/// another executor only to finish a block load, never used from two at once.
@usableFromInline
final class MergingIterator: @unchecked Sendable {
    let scan: ScanResult
    // Hot per-row state of a single-owner iterator (never shared across tasks, never
    // re-entered): `@exclusivity(unchecked)` drops the runtime exclusivity check that
    // otherwise costs a TLS lookup per access, about a fifth of a warm scan.
    @exclusivity(unchecked) private var merge = MergeHeap()
    @exclusivity(unchecked) private var started = false
    @exclusivity(unchecked) private var finished = false
    /// Table + user key of the last visible version seen (`lastPrefix[0..<lastLength]`);
    /// older versions of that key are skipped.
    /// Raw memory owned by the iterator (freed in `deinit`): an array here would be
    /// retained and released on every row.
    @exclusivity(unchecked) private var lastPrefix = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 1)
    @exclusivity(unchecked) private var lastLength = -1
    /// Set after a row was returned: its source moves past it on the next step,
    /// so the row's bytes stay valid until then.
    @exclusivity(unchecked) private var rowPending = false
    /// The top source must load its next block before the merge can go on.
    @exclusivity(unchecked) private var blocked = false
    /// A forward seek `seek(to:)` accepted for stepping; `step()` carries it out.
    @exclusivity(unchecked) private var pendingSeek: [UInt8]?
    /// The arrays of the last element returned (`currentElement()`).
    @exclusivity(unchecked) private var recycledKey = [UInt8]()
    @exclusivity(unchecked) private var recycledValue = [UInt8]()

    init(_ scan: ScanResult) { self.scan = scan }

    deinit { lastPrefix.deallocate() }

    /// Positions every source at the scan's lower bound (idempotent).
    func start() async throws {
        if started { return }
        started = true
        let target: [UInt8]
        (merge, target) = memtableHeap()
        for run in scan.runs {
            let it = SstRunIterator(reader: scan.reader, run: run)
            try await it.seek(target)
            merge.add(.run(it))
        }
    }

    /// `start()` without suspending when every run's seek finds its meta and block
    /// cached (`SstRunIterator.seekAtHand`); false, having started nothing, when one
    /// must read, and `start()` then does it all. A scan from an actor that reads
    /// only cached blocks thus never leaves the actor, not even for its first row.
    func startAtHand() -> Bool {
        if started { return true }
        var (m, target) = memtableHeap()
        for run in scan.runs {
            let it = SstRunIterator(reader: scan.reader, run: run)
            guard it.seekAtHand(target) else { return false }
            m.add(.run(it))
        }
        started = true
        merge = m
        return true
    }

    /// What both starts share: a heap with room for every source, holding the
    /// memtables positioned at the lower bound (they go first: newest data), and
    /// the encoded full key the runs seek to.
    private func memtableHeap() -> (MergeHeap, target: [UInt8]) {
        var target = [UInt8]()
        scan.from.withUnsafeBytes { FullKey.encode(table: TableID(scan.table), userKey: $0, epoch: .max, into: &target) }
        var m = MergeHeap()
        m.reserve(scan.memtables.count + scan.runs.count)
        for mem in scan.memtables {
            let it = MemtableIterator(mem)
            it.seek(table: scan.table, userKey: scan.from)
            m.add(.mem(it))
        }
        return (m, target)
    }

    enum Step { case row, end, blocked }

    /// Moves to the next visible row (newest version <= the epoch, not a tombstone,
    /// inside the bounds) as far as cached blocks allow, without suspending.
    /// `.blocked` means `finishBlocked()` must run before stepping on. Requires
    /// `start()`. Allocates nothing per entry.
    func stepSync() -> Step {
        // The heap moves into a local for the loop: a class property would be
        // retained and released around every access.
        var m = MergeHeap()
        swap(&m, &merge)
        defer { swap(&m, &merge) }
        return nextRow(&m)
    }

    /// Calls `body` with each visible row (user key, value) as far as cached blocks
    /// allow; `.blocked` means `finishBlocked()` must run, `.end` that the scan is
    /// over or `body` returned false.
    func visitRows(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) rethrows -> Step {
        var m = MergeHeap()
        swap(&m, &merge)
        defer { swap(&m, &merge) }
        while true {
            let step = nextRow(&m)
            guard step == .row else { return step }
            guard try m.withTopEntry({ k, _, v in try body(FullKey.userKey(k), v) }) else {
                finished = true
                return .end
            }
        }
    }

    @inline(__always)
    private func nextRow(_ m: inout MergeHeap) -> Step {
        if finished { return .end }
        if rowPending {
            rowPending = false
            if !m.advanceTopSync() { blocked = true; return .blocked }
        }
        let table = scan.table, epoch = scan.epoch
        while !m.isEmpty {
            let verdict: Int = m.withTopEntry { k, kind, _ in
                // 0 past the range, 1 skip, 2 row
                if FullKey.table(k) != table { return 0 }
                if let to = scan.to, to.withUnsafeBytes({ FullKey.compareBytes(FullKey.userKey(k), $0) }) >= 0 { return 0 }
                let prefix = FullKey.prefix(k)
                if lastLength == prefix.count,
                   FullKey.compareBytes(UnsafeRawBufferPointer(rebasing: lastPrefix[0..<prefix.count]), prefix) == 0 {
                    return 1 // an older version of the key just decided
                }
                guard FullKey.epoch(k) <= epoch else { return 1 }
                if lastPrefix.count < prefix.count {
                    lastPrefix.deallocate()
                    lastPrefix = .allocate(byteCount: prefix.count * 2, alignment: 1)
                }
                lastPrefix.baseAddress!.copyMemory(from: prefix.baseAddress!, byteCount: prefix.count)
                lastLength = prefix.count
                return scan.shows(kind: kind, userKey: FullKey.userKey(k)) ? 2 : 1
            }
            if verdict == 0 { break }
            if verdict == 2 {
                rowPending = true
                return .row
            }
            if !m.advanceTopSync() { blocked = true; return .blocked }
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

    /// Whether a seek to `key` can step the sources on from where they are rather
    /// than start over: the iterator sits on a returned row (started, not blocked,
    /// not finished) whose user key is at or below `key`. Every entry a source has
    /// passed is then below `key` or a version of the current row's key newer than
    /// the read epoch (invisible), so moving each source forward to its first entry
    /// at or after `key` positions the merge exactly as a fresh one.
    func canStep(to key: [UInt8]) -> Bool {
        guard started, rowPending, !blocked, !finished, pendingSeek == nil else { return false }
        return key.withUnsafeBytes { k in withCurrentRow { u, _ in FullKey.compareBytes(u, k) <= 0 } }
    }

    /// Makes the next `step()` seek forward to `key` by stepping. Requires `canStep(to: key)`.
    func stepLater(to key: [UInt8]) {
        pendingSeek = key
    }

    /// Carries out a pending seek: each source moves forward to its first entry at
    /// or after the target (`MemtableIterator.step`, `SstRunIterator.step`: inside the
    /// current block where the target is, re-seeking only runs whose current file
    /// cannot hold it), and the heap is rebuilt. The row the iterator sat on is not
    /// consumed: at the target it is returned again.
    private func repositionIfPending() async throws {
        guard let key = pendingSeek else { return }
        pendingSeek = nil
        rowPending = false
        lastLength = -1
        var target = [UInt8]()
        key.withUnsafeBytes { FullKey.encode(table: TableID(scan.table), userKey: $0, epoch: .max, into: &target) }
        for s in merge.sources {
            switch s {
            case let .mem(it): it.step(table: scan.table, userKey: key)
            case let .run(it): try await it.step(to: target)
            case .memReverse, .runReverse: break
            }
        }
        merge.rebuild()
    }

    /// Positions on the next visible row; false at the end. Completes a block load a
    /// `nextCached()` stopped at first, and a seek `stepLater` left pending.
    func step() async throws -> Bool {
        try await start()
        try await repositionIfPending()
        try await finishBlocked()
        while true {
            switch stepSync() {
            case .row: return true
            case .end: return false
            case .blocked: try await finishBlocked()
            }
        }
    }

    /// Calls `body` with the current row's user key and value bytes (valid only inside `body`).
    @inline(__always)
    func withCurrentRow<R>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try merge.withTopEntry { k, _, v in try body(FullKey.userKey(k), v) }
    }

    /// The next row if it can be produced without suspending (its block is cached or
    /// read ahead): `.some(row)`, or `.some(nil)` at the end; nil when `next()` must
    /// run (not started, a seek pending, or a block to read). No allocation when the
    /// caller let go of the previous row's arrays (`currentElement`).
    @usableFromInline
    func nextAtHand() -> ScanResult.Element?? {
        guard !blocked, pendingSeek == nil, started || startAtHand() else { return nil }
        // The heap moves into a local, as in `stepSync`: the row is stepped to and
        // copied out of it without retaining the heap's storage.
        var m = MergeHeap()
        swap(&m, &merge)
        defer { swap(&m, &merge) }
        switch nextRow(&m) {
        case .row:
            m.withTopEntry { k, _, v in
                Self.refill(&recycledKey, FullKey.userKey(k))
                Self.refill(&recycledValue, v)
            }
            return .some((recycledKey, recycledValue))
        case .end: return .some(nil)
        case .blocked: return nil
        }
    }

    @usableFromInline
    func next() async throws -> ScanResult.Element? {
        guard try await step() else { return nil }
        return currentElement()
    }

    /// The current row as the sequence's element, in the arrays of the row before
    /// when its caller has let go of them: `refill` then writes into storage that is
    /// uniquely referenced again, so a loop that uses each row and drops it costs no
    /// allocation per row. Arrays the caller keeps are shared, so copy-on-write gives
    /// the next row fresh storage and the kept ones never change.
    @inline(__always)
    private func currentElement() -> ScanResult.Element {
        withCurrentRow { k, v in
            Self.refill(&recycledKey, k)
            Self.refill(&recycledValue, v)
        }
        return (recycledKey, recycledValue)
    }

    /// Overwrites `array` with `bytes`: in place when the length is unchanged (one
    /// uniqueness check and a copy; a shared array is copied first by
    /// copy-on-write), else through `removeAll(keepingCapacity:)`.
    @inline(__always)
    private static func refill(_ array: inout [UInt8], _ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        if array.count == n {
            if n > 0 {
                // Through a span: `withUnsafeMutableBytes` swaps the array out for the
                // shared empty array around its closure, two atomic operations per call.
                var span = array.mutableSpan
                span.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: n) }
            }
            return
        }
        array.removeAll(keepingCapacity: true)
        array.append(contentsOf: bytes)
    }
}
