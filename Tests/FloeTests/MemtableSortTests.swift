import Testing
@testable import Floe

/// The radix sort that orders an epoch at seal, checked against a plain
/// comparison sort of the same entries (the model), on seeded random keys built
/// to hit its corners: shared and absent first bytes, keys shorter than the 8-byte
/// prefix (zero padding ties), zero bytes, several tables.
@Suite struct MemtableSortTests {
    static func memtable(_ keys: [(UInt32, [UInt8])]) -> MutableMemtable {
        var m = MutableMemtable(epoch: 1)
        for (i, (t, k)) in keys.enumerated() {
            let v: [UInt8] = [UInt8(truncatingIfNeeded: i)]
            _ = k.withUnsafeBytes { kb in v.withUnsafeBytes { m.insert(table: t, key: kb, kind: 0, value: $0) } }
        }
        return m
    }

    /// The model: (table, user key bytes) by plain comparison.
    static func modelOrder(_ m: MutableMemtable) -> [[UInt8]] {
        m.entries.map { e in
            withUnsafeBytes(of: e.table.bigEndian) { Array($0) } + Array(m.arena[e.keyOffset..<(e.keyOffset + Int(e.keyLength))])
        }.sorted { $0.lexicographicallyPrecedes($1) }
    }

    static func sortedOrder(_ m: MutableMemtable) -> [[UInt8]] {
        let f = m.freeze()
        return f.order.map { i in
            let e = f.entries[Int(i)]
            return withUnsafeBytes(of: e.table.bigEndian) { Array($0) } + Array(f.arena[e.keyOffset..<(e.keyOffset + Int(e.keyLength))])
        }
    }

    static func randomKey(_ rng: inout SplitMix64, shape: UInt64) -> [UInt8] {
        switch shape {
        case 0: // short keys, zero bytes likely: ties on the zero-padded prefix
            return (0..<Int(rng.next() % 9)).map { _ in UInt8(rng.next() % 3) }
        case 1: // a common 8-byte head, differences after it
            return Array("tenant01".utf8) + (0..<Int(rng.next() % 6)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case 2: // counters: bytes all keys share, as in the benchmark keys
            return withUnsafeBytes(of: (rng.next() % 5_000).bigEndian) { Array($0) } + [0x2d, 0x2d]
        case 3: // a common 8-byte head, then bytes 8..<16 that tie often (few values, zero
            // bytes, cut short) and a tail after them: the second-word tie breaks
            let next = (0..<Int(rng.next() % 9)).map { _ in UInt8(rng.next() % 3) }
            return Array("vnode-07".utf8) + next + (next.count == 8 ? (0..<Int(rng.next() % 4)).map { _ in UInt8(rng.next() % 2) } : [])
        default:
            return (0..<Int(1 + rng.next() % 24)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        }
    }

    /// Fewer than `below` writes over 1 to 3 tables (differing in several bytes), keys of every shape.
    static func randomKeys(_ rng: inout SplitMix64, below: UInt64) -> [(UInt32, [UInt8])] {
        let n = Int(rng.next() % below)
        let tables = 1 + rng.next() % 3
        var keys: [(UInt32, [UInt8])] = []
        for _ in 0..<n {
            let t = UInt32(rng.next() % tables) &* 0x0101_0001
            keys.append((t, randomKey(&rng, shape: rng.next() % 5)))
        }
        return keys
    }

    @Test func matchesAComparisonSortOnRandomKeys() {
        for seed in UInt64(1)...60 {
            var rng = SplitMix64(seed: seed)
            let keys = Self.randomKeys(&rng, below: 3_000)
            let n = keys.count
            let m = Self.memtable(keys)
            let got = Self.sortedOrder(m), want = Self.modelOrder(m)
            let at = zip(got, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            #expect(got.count == want.count && at == nil,
                    "seed \(seed): \(n) writes, \(m.count) distinct keys; first difference at \(at ?? -1): \(at.map { got[$0] } ?? []) vs \(at.map { want[$0] } ?? [])")
            if got != want { return }
        }
    }

    @Test func edgeSizesAndIdenticalPrefixes() {
        #expect(Self.sortedOrder(Self.memtable([])).isEmpty)
        let one = Self.memtable([(7, [1, 2, 3])])
        #expect(Self.sortedOrder(one) == Self.modelOrder(one))
        // Every key has the same 12 sort bytes: the order comes from the tie-break alone.
        let head = Array("samehead".utf8)
        let keys: [(UInt32, [UInt8])] = (0..<500).reversed().map { (i: Int) -> (UInt32, [UInt8]) in
            let tail: [UInt8] = [UInt8(i % 256), UInt8(i / 256)]
            return (2, head + tail)
        }
        let m = Self.memtable(keys)
        #expect(Self.sortedOrder(m) == Self.modelOrder(m), "keys tied on their 12 sort bytes")
        // Keys that differ only in zero padding: [] < [0] < [0, 0] < ... < [0 x 9].
        let zeros = Self.memtable((0...9).reversed().map { (1, [UInt8](repeating: 0, count: $0)) })
        #expect(Self.sortedOrder(zeros) == (0...9).map { withUnsafeBytes(of: UInt32(1).bigEndian) { Array($0) } + [UInt8](repeating: 0, count: $0) })
    }

    /// A writer scanning its own open epoch between writes: each frozen copy that a
    /// scan sorted seeds the next one's order (only the entries written since are
    /// sorted, then merged). Writes between copies add keys and overwrite old ones
    /// (the entry is repointed, not moved); some copies are sorted and some not, so
    /// an order is extended across several rounds of writes. Every sorted copy must
    /// equal a comparison sort of the memtable's entries at that moment.
    @Test func frozenCopiesExtendTheOrderOfTheOneBefore() {
        for seed in UInt64(1)...40 {
            var rng = SplitMix64(seed: seed)
            var m = MutableMemtable(epoch: 1)
            var written: [(UInt32, [UInt8])] = []
            for round in 0..<30 {
                for _ in 0..<Int(rng.next() % 200) {
                    let (t, k): (UInt32, [UInt8])
                    if !written.isEmpty && rng.next() % 4 == 0 {
                        (t, k) = written[Int(rng.next() % UInt64(written.count))] // an overwrite
                    } else {
                        (t, k) = (UInt32(rng.next() % 2) &* 0x0101_0001, Self.randomKey(&rng, shape: rng.next() % 5))
                        written.append((t, k))
                    }
                    let v: [UInt8] = [UInt8(truncatingIfNeeded: round)]
                    _ = k.withUnsafeBytes { kb in v.withUnsafeBytes { m.insert(table: t, key: kb, kind: 0, value: $0) } }
                }
                let f = m.frozenCopy()
                // Two copies in three are sorted (by a scan); the others are dropped unsorted.
                guard rng.next() % 3 != 0 else { continue }
                let got = f.order.map { i in
                    let e = f.entries[Int(i)]
                    return withUnsafeBytes(of: e.table.bigEndian) { Array($0) } + Array(f.arena[e.keyOffset..<(e.keyOffset + Int(e.keyLength))])
                }
                let want = Self.modelOrder(m)
                let at = zip(got, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                #expect(got.count == want.count && at == nil,
                        "seed \(seed) round \(round): \(m.count) keys, \(got.count) ordered; first difference at \(at ?? -1)")
                if got != want { return }
            }
        }
    }

    static func keys(_ f: FrozenMemtable, _ order: [Int32]) -> [[UInt8]] {
        order.map { i in
            let e = f.entries[Int(i)]
            return withUnsafeBytes(of: e.table.bigEndian) { Array($0) } + Array(f.arena[e.keyOffset..<(e.keyOffset + Int(e.keyLength))])
        }
    }

    /// The sort a sync of a large epoch makes, as 2 to 5 key ranges at once, must
    /// give the model's order: the ranges split on `(table, first 8 bytes)`, so
    /// ties on those bytes (shapes 1 and 3), tables, short and long keys all cross
    /// or sit on the splitters.
    @Test func sortingInKeyRangesMatchesAComparisonSort() async {
        for seed in UInt64(1)...40 {
            var rng = SplitMix64(seed: seed)
            let keys = Self.randomKeys(&rng, below: 4_000)
            let m = Self.memtable(keys), f = m.freeze()
            let parts = 2 + Int(rng.next() % 4)
            let got = Self.keys(f, await MemtableSort.order(f.entries, arena: f.arena, parts: parts))
            let want = Self.modelOrder(m)
            let at = zip(got, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            #expect(got.count == want.count && at == nil,
                    "seed \(seed): \(m.count) keys in \(parts) ranges; first difference at \(at ?? -1)")
            if got != want { return }
        }
        // Every key shares table and first 8 bytes: one range takes them all.
        let head = Array("samehead".utf8)
        let m = Self.memtable((0..<600).reversed().map { (2, head + [UInt8($0 % 256), UInt8($0 / 256)]) })
        let f = m.freeze()
        #expect(Self.keys(f, await MemtableSort.order(f.entries, arena: f.arena, parts: 3)) == Self.modelOrder(m))
    }
}
