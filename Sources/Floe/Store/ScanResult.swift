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

    public struct Iterator: AsyncIteratorProtocol {
        let merge: MergingIterator
        init(_ m: MergingIterator) { merge = m }
        public mutating func next() async throws -> Element? {
            try await merge.next()
        }
    }
}

/// K-way merge over memtables and sorted runs with MVCC resolution: for each
/// user key the newest version at or below the read epoch wins; tombstones hide
/// the key. Sources are concrete classes behind an enum: no existentials per entry.
final class MergingIterator {
    enum Source {
        case mem(MemtableIterator)
        case run(SstRunIterator)

        var valid: Bool {
            switch self {
            case let .mem(m): m.valid
            case let .run(r): r.valid
            }
        }
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
    }

    private let scan: ScanResult
    private var sources: [Source] = []
    /// Min-heap of indices into `sources`, ordered by current key.
    private var heap: [Int] = []
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
            sources.append(.mem(it))
        }
        for run in scan.runs {
            let it = SstRunIterator(reader: scan.reader, run: run)
            try await it.seek(target)
            sources.append(.run(it))
        }
        for i in sources.indices where sources[i].valid { push(i) }
    }

    func next() async throws -> ScanResult.Element? {
        if finished { return nil }
        if !started { try await start() }
        while let top = heap.first {
            let src = sources[top]
            let done: Bool = src.key.withUnsafeBytes { k in
                if FullKey.table(k) != scan.table { return true }
                if let to = scan.to, to.withUnsafeBytes({ FullKey.compareBytes(FullKey.userKey(k), $0) }) >= 0 { return true }
                return false
            }
            if done { break }
            let (visible, sameAsLast): (Bool, Bool) = src.key.withUnsafeBytes { k in
                let visible = FullKey.epoch(k) <= scan.epoch
                let same = haveLast && lastPrefix.withUnsafeBytes { FullKey.compareBytes($0, FullKey.prefix(k)) == 0 }
                return (visible, same)
            }
            var out: ScanResult.Element? = nil
            if visible && !sameAsLast {
                let key = src.key
                lastPrefix.removeAll(keepingCapacity: true)
                lastPrefix.append(contentsOf: key[0..<(key.count - 8)])
                haveLast = true
                if src.kind == Block.kindPut {
                    out = (Array(key[4..<(key.count - 8)]), Array(src.value))
                }
            }
            try await src.next()
            if src.valid { siftDown(0) } else { popTop() }
            if let out { return out }
        }
        finished = true
        return nil
    }

    // MARK: heap

    @inline(__always) private func less(_ a: Int, _ b: Int) -> Bool {
        let c = FullKey.compare(sources[a].key, sources[b].key)
        return c < 0 || (c == 0 && a < b)
    }

    private func push(_ i: Int) {
        heap.append(i)
        var c = heap.count - 1
        while c > 0 {
            let p = (c - 1) >> 1
            if less(heap[c], heap[p]) { heap.swapAt(c, p); c = p } else { break }
        }
    }

    private func popTop() {
        let last = heap.removeLast()
        if !heap.isEmpty { heap[0] = last; siftDown(0) }
    }

    private func siftDown(_ start: Int) {
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
