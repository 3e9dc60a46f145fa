/// The forward merge: scans, compaction, live-data walks.
typealias MergeHeap = DirectedMergeHeap<AscendingKeys>
/// The backward merge of reverse scans, over `memReverse` and `runReverse` sources.
typealias ReverseMergeHeap = DirectedMergeHeap<DescendingKeys>

/// A heap of merge sources ordered by current full key in `Order`'s direction
/// (ascending ties: lower source index first, so callers list newer sources first;
/// descending is the exact reverse). Yields every version of every key in that
/// order; MVCC resolution is the caller's job. Its sources must all move in
/// `Order`'s direction.
struct DirectedMergeHeap<Order: MergeOrder> {
    private(set) var sources: [MergeSource] = []
    /// `sources` without ownership, for the per-entry paths.
    private var borrowed: [BorrowedSource] = []
    private var heap: [Int] = []
    /// Per source: table and first 8 user-key bytes of its current key. Most heap
    /// comparisons end on these, without touching (or retaining) the key buffers.
    private var heads: [Block.RestartKey] = []

    /// Makes room for `n` sources, so adding them allocates each array once.
    mutating func reserve(_ n: Int) {
        sources.reserveCapacity(n)
        borrowed.reserveCapacity(n)
        heap.reserveCapacity(n)
        heads.reserveCapacity(n)
    }

    /// Adds a positioned source; exhausted sources are ignored.
    mutating func add(_ s: MergeSource) {
        sources.append(s)
        borrowed.append(BorrowedSource(s))
        heads.append(Block.RestartKey(prefix: 0, table: 0))
        if borrowed[sources.count - 1].valid {
            refreshHead(sources.count - 1)
            push(sources.count - 1)
        }
    }

    private mutating func refreshHead(_ i: Int) {
        heads[i] = borrowed[i].withKey {
            Block.RestartKey(prefix: KeyPrefix.of(FullKey.userKey($0)), table: FullKey.table($0))
        }
    }

    /// Rebuilds the heap from every source still valid, after sources were moved
    /// from outside (a seek that steps them on).
    mutating func rebuild() {
        heap.removeAll(keepingCapacity: true)
        for i in sources.indices where borrowed[i].valid {
            refreshHead(i)
            push(i)
        }
    }

    /// Whether every source is exhausted.
    var isEmpty: Bool { heap.isEmpty }

    /// Borrows the first current key in `Order`. Requires `!isEmpty`.
    @inline(__always)
    func withTopKey<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try borrowed[heap[0]].withKey(body)
    }

    /// Borrows the first current key in `Order`, its kind and value. Requires `!isEmpty`.
    @inline(__always)
    func withTopEntry<R>(_ body: (UnsafeRawBufferPointer, UInt8, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try borrowed[heap[0]].withEntry(body)
    }

    /// Advances the top source and restores heap order.
    mutating func advanceTop() async throws {
        if !advanceTopSync() { try await finishAdvanceTop() }
    }

    /// The per-entry path: advances the top source within its current block and
    /// restores heap order without suspending. Returns false when the source must
    /// load another block: then call `finishAdvanceTop()`.
    @inline(__always)
    mutating func advanceTopSync() -> Bool {
        guard let t = heap.first else { return true }
        guard borrowed[t].advanceSync() else { return false }
        settleTop(t)
        return true
    }

    mutating func finishAdvanceTop() async throws {
        guard let t = heap.first else { return }
        try await sources[t].finishAdvance()
        settleTop(t)
    }

    private mutating func settleTop(_ t: Int) {
        if borrowed[t].valid {
            refreshHead(t)
            if heap.count > 1 { siftDown(0) }
        } else {
            popTop()
        }
    }

    @inline(__always) private func less(_ a: Int, _ b: Int) -> Bool {
        let ha = heads[a], hb = heads[b]
        if Order.descending {
            if ha.table != hb.table { return ha.table > hb.table }
            if ha.prefix != hb.prefix { return ha.prefix > hb.prefix }
            let c = borrowed[a].withKey { ka in borrowed[b].withKey { kb in FullKey.compare(ka, kb) } }
            return c > 0 || (c == 0 && a > b)
        }
        if ha.table != hb.table { return ha.table < hb.table }
        if ha.prefix != hb.prefix { return ha.prefix < hb.prefix }
        let c = borrowed[a].withKey { ka in borrowed[b].withKey { kb in FullKey.compare(ka, kb) } }
        return c < 0 || (c == 0 && a < b)
    }

    private mutating func push(_ i: Int) {
        heap.append(i)
        var c = heap.count - 1
        while c > 0 {
            let p = (c - 1) >> 1
            if less(heap[c], heap[p]) { heap.swapAt(c, p); c = p } else { break }
        }
    }

    private mutating func popTop() {
        let last = heap.removeLast()
        if !heap.isEmpty { heap[0] = last; siftDown(0) }
    }

    /// Restores heap order below `start` after its source moved on. Floyd's
    /// variant: the hole goes down to a leaf taking the smaller child (one
    /// comparison per level), then the moved source climbs back up. An advanced
    /// source's next key is random against the other sources' keys, so it
    /// belongs near the bottom (most nodes are) and the climb is short: about
    /// half the comparisons of the textbook sift (two per level), which is what a
    /// scan over a deep L0 (dozens of sources) spends its time on.
    private mutating func siftDown(_ start: Int) {
        let n = heap.count
        let moved = heap[start]
        var hole = start
        while true {
            let l = 2 * hole + 1
            if l >= n { break }
            let r = l + 1
            let c = r < n && less(heap[r], heap[l]) ? r : l
            heap[hole] = heap[c]
            hole = c
        }
        while hole > start {
            let p = (hole - 1) >> 1
            guard less(moved, heap[p]) else { break }
            heap[hole] = heap[p]
            hole = p
        }
        heap[hole] = moved
    }
}

/// A merge source without ownership: copying it costs no reference counting.
/// `MergeHeap.sources` holds the owning references, so these stay valid as long as the heap.
private enum BorrowedSource {
    case mem(Unmanaged<MemtableIterator>)
    case run(Unmanaged<SstRunIterator>)
    case memReverse(Unmanaged<MemtableIterator>)
    case runReverse(Unmanaged<SstRunReverseIterator>)

    init(_ s: MergeSource) {
        switch s {
        case let .mem(m): self = .mem(.passUnretained(m))
        case let .run(r): self = .run(.passUnretained(r))
        case let .memReverse(m): self = .memReverse(.passUnretained(m))
        case let .runReverse(r): self = .runReverse(.passUnretained(r))
        }
    }

    var valid: Bool {
        switch self {
        case let .mem(m), let .memReverse(m): m._withUnsafeGuaranteedRef { $0.valid }
        case let .run(r): r._withUnsafeGuaranteedRef { $0.valid }
        case let .runReverse(r): r._withUnsafeGuaranteedRef { $0.valid }
        }
    }

    @inline(__always)
    func withKey<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch self {
        case let .mem(m), let .memReverse(m): try m._withUnsafeGuaranteedRef { try $0.withKey(body) }
        case let .run(r): try r._withUnsafeGuaranteedRef { try $0.withKey(body) }
        case let .runReverse(r): try r._withUnsafeGuaranteedRef { try $0.withKey(body) }
        }
    }

    @inline(__always)
    func withEntry<R>(_ body: (UnsafeRawBufferPointer, UInt8, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch self {
        case let .mem(m), let .memReverse(m): try m._withUnsafeGuaranteedRef { try $0.withEntry(body) }
        case let .run(r): try r._withUnsafeGuaranteedRef { try $0.withEntry(body) }
        case let .runReverse(r): try r._withUnsafeGuaranteedRef { try $0.withEntry(body) }
        }
    }

    /// Moves one entry on in the source's direction; false when an SST run must load
    /// another block first.
    @inline(__always)
    func advanceSync() -> Bool {
        switch self {
        case let .mem(m):
            m._withUnsafeGuaranteedRef { $0.next() }
            return true
        case let .run(r):
            return r._withUnsafeGuaranteedRef { $0.advanceInBlock() }
        case let .memReverse(m):
            m._withUnsafeGuaranteedRef { $0.prev() }
            return true
        case let .runReverse(r):
            return r._withUnsafeGuaranteedRef { $0.retreatInBlock() }
        }
    }
}
