/// Sorts a memtable's entries into `(table, userKey)` order: what `seal` pays per epoch.
///
/// A radix sort on a 20-byte key, `(table, user-key bytes 0..<16)` zero-padded, least
/// significant byte first, skipping bytes all entries share (so keys that differ in
/// a few bytes take a few passes). The first 8 bytes come inline from each entry;
/// bytes 8..<16 are read from the arena in arrival order, which walks it front to
/// back, before the sort: read in sorted order instead, nearly every one missed the
/// cache. Only entries tied on all 20 bytes (keys longer than 16 bytes sharing their
/// first 16, or shorter ones equal up to the padding) are compared byte by byte.
enum MemtableSort {
    private struct Item {
        /// User-key bytes 0..<8, big-endian, zero-padded (the entry's `prefix`).
        var prefix: UInt64
        /// User-key bytes 8..<16, big-endian, zero-padded.
        var next: UInt64
        var table: UInt32
        var index: Int32

        @inline(__always)
        init(_ e: MemtableEntry, index: Int, arena: UnsafeRawBufferPointer) {
            prefix = e.prefix
            table = e.table
            self.index = Int32(index)
            let length = Int(e.keyLength)
            if length >= 16 {
                next = UInt64(bigEndian: arena.loadUnaligned(fromByteOffset: e.keyOffset + 8, as: UInt64.self))
            } else {
                var v: UInt64 = 0
                for d in 8..<16 { v = v << 8 | (d < length ? UInt64(arena[e.keyOffset + d]) : 0) }
                next = v
            }
        }
    }

    /// Sort key bytes: `next` (0..<8, least significant), `prefix` (8..<16), `table` (16..<20).
    private static let keyBytes = 20

    /// Entry indices in `(table, userKey)` order. Keys must be unique per table.
    static func order(_ entries: [MemtableEntry], arena: [UInt8]) -> [Int32] {
        order(entries, arena: arena, from: 0)
    }

    /// The order of `entries[from...]` alone (indices into `entries`).
    private static func order(_ entries: [MemtableEntry], arena: [UInt8], from: Int) -> [Int32] {
        let n = entries.count - from
        guard n > 1 else { return [Int32](Int32(from)..<Int32(entries.count)) }
        var a = [Item](unsafeUninitializedCapacity: n) { buf, count in
            entries.withUnsafeBufferPointer { es in
                arena.withUnsafeBytes { arena in
                    for i in 0..<n { buf[i] = Item(es[from + i], index: from + i, arena: arena) }
                }
            }
            count = n
        }
        radixSort(&a)
        breakTies(&a, entries: entries, arena: arena)
        return a.map(\.index)
    }

    /// The same order as `order(_:arena:)`, sorted as `parts` key ranges at once (child
    /// tasks): a sample picks `parts - 1` splitters on `(table, prefix)`, one pass deals
    /// the entries into the ranges, and each range is sorted alone. Entries tied on
    /// `(table, prefix)` land in the same range (a range holds keys `>=` its splitter
    /// and `<` the next), so the ranges' orders, concatenated, are the whole order.
    static func order(_ entries: [MemtableEntry], arena: [UInt8], parts: Int) async -> [Int32] {
        let n = entries.count
        guard parts > 1, n >= parts * 64 else { return order(entries, arena: arena) }
        let splitters = splitters(entries, parts: parts)
        var ranges = [[Item]](repeating: [], count: splitters.count + 1)
        for r in ranges.indices { ranges[r].reserveCapacity(n / ranges.count + n / 16) }
        entries.withUnsafeBufferPointer { es in
            arena.withUnsafeBytes { arena in
                for i in 0..<n {
                    let e = es[i]
                    // The first splitter above the entry's key names its range (few splitters: a scan).
                    var r = 0
                    while r < splitters.count && !Self.less(e.table, e.prefix, than: splitters[r]) { r += 1 }
                    ranges[r].append(Item(e, index: i, arena: arena))
                }
            }
        }
        let sorted = await withTaskGroup(of: (Int, [Int32]).self) { group in
            for r in ranges.indices where !ranges[r].isEmpty {
                let items = ranges[r]
                group.addTask {
                    var a = items
                    radixSort(&a)
                    breakTies(&a, entries: entries, arena: arena)
                    return (r, a.map(\.index))
                }
            }
            var out = [[Int32]](repeating: [], count: ranges.count)
            for await (r, o) in group { out[r] = o }
            return out
        }
        return Array(sorted.joined())
    }

    /// `(table, prefix)` of `parts - 1` entries spread over a sorted sample, distinct and ascending.
    private static func splitters(_ entries: [MemtableEntry], parts: Int) -> [(table: UInt32, prefix: UInt64)] {
        let step = max(1, entries.count / (parts * 64))
        var sample: [(table: UInt32, prefix: UInt64)] = stride(from: 0, to: entries.count, by: step).map { (entries[$0].table, entries[$0].prefix) }
        sample.sort { less($0.table, $0.prefix, than: $1) }
        var out: [(table: UInt32, prefix: UInt64)] = []
        for k in 1..<parts {
            let s = sample[k * sample.count / parts]
            // The smallest key can start no range but the first; a repeated splitter no second one.
            if less(sample[0].table, sample[0].prefix, than: s), out.last.map({ less($0.table, $0.prefix, than: s) }) ?? true { out.append(s) }
        }
        return out
    }

    @inline(__always)
    private static func less(_ table: UInt32, _ prefix: UInt64, than s: (table: UInt32, prefix: UInt64)) -> Bool {
        table != s.table ? table < s.table : prefix < s.prefix
    }

    /// The order of all of `entries` given `sorted`, the order of its first
    /// `sorted.count` entries (an earlier freeze of the same append-only memtable,
    /// whose entries keep their keys: a later write of a key repoints its entry, it
    /// does not move it): only the entries after those are sorted, then the two
    /// orders are merged. A writer that scans its own open epoch between writes so
    /// pays for what it wrote since its last scan, not for the whole epoch again.
    static func order(_ entries: [MemtableEntry], arena: [UInt8], extending sorted: [Int32]) -> [Int32] {
        let tail = order(entries, arena: arena, from: sorted.count)
        if tail.isEmpty { return sorted }
        if sorted.isEmpty { return tail }
        return arena.withUnsafeBytes { bytes in
            entries.withUnsafeBufferPointer { es in
                // True when entry x sorts before entry y: by table, then user-key bytes.
                func less(_ x: Int32, _ y: Int32) -> Bool {
                    let a = es[Int(x)], b = es[Int(y)]
                    if a.table != b.table { return a.table < b.table }
                    if a.prefix != b.prefix { return a.prefix < b.prefix }
                    return FullKey.compareBytes(UnsafeRawBufferPointer(rebasing: bytes[a.keyOffset..<(a.keyOffset + Int(a.keyLength))]),
                                                UnsafeRawBufferPointer(rebasing: bytes[b.keyOffset..<(b.keyOffset + Int(b.keyLength))])) < 0
                }
                return [Int32](unsafeUninitializedCapacity: sorted.count + tail.count) { out, count in
                    var i = 0, j = 0, k = 0
                    while i < sorted.count && j < tail.count {
                        if less(tail[j], sorted[i]) { out[k] = tail[j]; j += 1 } else { out[k] = sorted[i]; i += 1 }
                        k += 1
                    }
                    while i < sorted.count { out[k] = sorted[i]; i += 1; k += 1 }
                    while j < tail.count { out[k] = tail[j]; j += 1; k += 1 }
                    count = k
                }
            }
        }
    }

    /// Byte `d` of the 20-byte sort key, 0 the least significant.
    @inline(__always)
    private static func byte(_ x: Item, _ d: Int) -> Int {
        d < 8 ? Int(truncatingIfNeeded: x.next >> UInt64(8 * d)) & 0xff
            : d < 16 ? Int(truncatingIfNeeded: x.prefix >> UInt64(8 * (d - 8))) & 0xff
            : Int(truncatingIfNeeded: x.table >> UInt32(8 * (d - 16))) & 0xff
    }

    private static func radixSort(_ a: inout [Item]) {
        let n = a.count
        // All the histograms in one pass.
        var counts = [Int](repeating: 0, count: keyBytes * 256)
        a.withUnsafeBufferPointer { src in
            counts.withUnsafeMutableBufferPointer { c in
                for x in src {
                    for d in 0..<keyBytes { c[d &* 256 &+ byte(x, d)] &+= 1 }
                }
            }
        }
        var b = [Item](unsafeUninitializedCapacity: n) { _, count in count = n }
        for d in 0..<keyBytes {
            // A byte every entry shares orders nothing.
            if counts[d * 256 + byte(a[0], d)] == n { continue }
            var offsets = [Int](repeating: 0, count: 256)
            var sum = 0
            for v in 0..<256 {
                offsets[v] = sum
                sum += counts[d * 256 + v]
            }
            a.withUnsafeBufferPointer { src in
                b.withUnsafeMutableBufferPointer { dst in
                    offsets.withUnsafeMutableBufferPointer { off in
                        for x in src {
                            let v = byte(x, d)
                            dst[off[v]] = x
                            off[v] &+= 1
                        }
                    }
                }
            }
            swap(&a, &b)
        }
    }

    /// Orders each run of entries tied on all 20 sort-key bytes by their whole user
    /// keys, byte by byte (rare: keys longer than 16 bytes that share 16).
    private static func breakTies(_ a: inout [Item], entries: [MemtableEntry], arena: [UInt8]) {
        let n = a.count
        var group: [Int32] = []
        var i = 0
        while i < n {
            var j = i + 1
            while j < n && a[j].prefix == a[i].prefix && a[j].next == a[i].next && a[j].table == a[i].table { j += 1 }
            if j - i > 1 {
                arena.withUnsafeBytes { bytes in
                    entries.withUnsafeBufferPointer { es in
                        func key(_ index: Int32) -> UnsafeRawBufferPointer {
                            let e = es[Int(index)]
                            return UnsafeRawBufferPointer(rebasing: bytes[e.keyOffset..<(e.keyOffset + Int(e.keyLength))])
                        }
                        group.removeAll(keepingCapacity: true)
                        for k in i..<j { group.append(a[k].index) }
                        group.sort { FullKey.compareBytes(key($0), key($1)) < 0 }
                        for k in 0..<group.count { a[i + k].index = group[k] }
                    }
                }
            }
            i = j
        }
    }
}
