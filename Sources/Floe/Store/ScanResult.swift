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

    func next() async throws -> ScanResult.Element? {
        if finished { return nil }
        if !started { try await start() }
        while let src = merge.top {
            let key = src.key
            let (done, visible, sameAsLast): (Bool, Bool, Bool) = key.withUnsafeBytes { k in
                if FullKey.table(k) != scan.table { return (true, false, false) }
                if let to = scan.to, to.withUnsafeBytes({ FullKey.compareBytes(FullKey.userKey(k), $0) }) >= 0 { return (true, false, false) }
                let same = haveLast && lastPrefix.withUnsafeBytes { FullKey.compareBytes($0, FullKey.prefix(k)) == 0 }
                return (false, FullKey.epoch(k) <= scan.epoch, same)
            }
            if done { break }
            var out: ScanResult.Element? = nil
            if visible && !sameAsLast {
                lastPrefix.removeAll(keepingCapacity: true)
                lastPrefix.append(contentsOf: key[0..<(key.count - 8)])
                haveLast = true
                if src.kind == Block.kindPut {
                    out = (Array(key[4..<(key.count - 8)]), Array(src.value))
                }
            }
            try await merge.advanceTop()
            if let out { return out }
        }
        finished = true
        return nil
    }
}
