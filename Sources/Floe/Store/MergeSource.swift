/// One ordered input of a merge: a frozen memtable or a sorted run of SSTs.
/// A closed enum over concrete classes, so per-entry dispatch is a switch, not an existential.
enum MergeSource {
    case mem(MemtableIterator)
    case run(SstRunIterator)

    var valid: Bool {
        switch self {
        case let .mem(m): m.valid
        case let .run(r): r.valid
        }
    }

    /// The current encoded full key.
    var key: [UInt8] {
        switch self {
        case let .mem(m): m.key
        case let .run(r): r.key
        }
    }

    var kind: UInt8 {
        switch self {
        case let .mem(m): m.kind
        case let .run(r): r.kind
        }
    }

    var value: ArraySlice<UInt8> {
        switch self {
        case let .mem(m): m.value
        case let .run(r): r.value
        }
    }

    func next() async throws {
        switch self {
        case let .mem(m): m.next()
        case let .run(r): try await r.next()
        }
    }

    /// Advances without suspending if possible; false means `finishAdvance()` must run.
    @inline(__always)
    func advanceSync() -> Bool {
        switch self {
        case let .mem(m):
            m.next()
            return true
        case let .run(r):
            return r.advanceInBlock()
        }
    }

    func finishAdvance() async throws {
        if case let .run(r) = self { try await r.finishAdvance() }
    }
}

/// A min-heap of merge sources ordered by current full key (ties: lower source
/// index first, so callers list newer sources first). Yields every version of
/// every key in full-key order; MVCC resolution is the caller's job.
struct MergeHeap {
    private(set) var sources: [MergeSource] = []
    private var heap: [Int] = []
    /// Per source: table and first 8 user-key bytes of its current key. Most heap
    /// comparisons end on these, without touching (or retaining) the key buffers.
    private var heads: [Block.RestartKey] = []

    /// Adds a positioned source; exhausted sources are ignored.
    mutating func add(_ s: MergeSource) {
        sources.append(s)
        heads.append(Block.RestartKey(prefix: 0, table: 0))
        if s.valid {
            refreshHead(sources.count - 1)
            push(sources.count - 1)
        }
    }

    private mutating func refreshHead(_ i: Int) {
        heads[i] = sources[i].key.withUnsafeBytes {
            Block.RestartKey(prefix: MutableMemtable.prefix(FullKey.userKey($0)), table: FullKey.table($0))
        }
    }

    /// The source holding the smallest current key, if any.
    var top: MergeSource? { heap.first.map { sources[$0] } }

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
        guard sources[t].advanceSync() else { return false }
        settleTop(t)
        return true
    }

    mutating func finishAdvanceTop() async throws {
        guard let t = heap.first else { return }
        try await sources[t].finishAdvance()
        settleTop(t)
    }

    private mutating func settleTop(_ t: Int) {
        if sources[t].valid {
            refreshHead(t)
            if heap.count > 1 { siftDown(0) }
        } else {
            popTop()
        }
    }

    @inline(__always) private func less(_ a: Int, _ b: Int) -> Bool {
        let ha = heads[a], hb = heads[b]
        if ha.table != hb.table { return ha.table < hb.table }
        if ha.prefix != hb.prefix { return ha.prefix < hb.prefix }
        let c = sources[a].key.withUnsafeBytes { ka in sources[b].key.withUnsafeBytes { kb in FullKey.compare(ka, kb) } }
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

    private mutating func siftDown(_ start: Int) {
        var p = start
        let n = heap.count
        while true {
            let l = 2 * p + 1, r = l + 1
            var m = p
            if l < n && less(heap[l], heap[m]) { m = l }
            if r < n && less(heap[r], heap[m]) { m = r }
            if m == p { return }
            heap.swapAt(p, m)
            p = m
        }
    }
}
