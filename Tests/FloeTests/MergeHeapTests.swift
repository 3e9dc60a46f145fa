import Testing
@testable import Floe

/// `MergeHeap` against a sort of everything its sources hold: every entry comes
/// out once, in full-key order, equal full keys in source order (callers list
/// newer sources first). Many sources, as a scan over a deep L0 merges.
@Suite struct MergeHeapTests {
    @Test func yieldsEveryEntryInFullKeyOrderWithTiesInSourceOrder() async throws {
        for seed: UInt64 in 1...30 {
            var rng = SplitMix64(seed: seed)
            let sourceCount = Int(1 + rng.next() % 90)
            // (full key, source) of every entry, the expected order once sorted.
            var all: [([UInt8], Int)] = []
            var heap = MergeHeap()
            for s in 0..<sourceCount {
                // Few epochs and a small key space: equal user keys across sources, some
                // at the same epoch (equal full keys), keys of mixed lengths and tables.
                var mem = MutableMemtable(epoch: Epoch(1 + rng.next() % 3))
                for _ in 0..<Int(rng.next() % 40) {
                    let table = UInt32(rng.next() % 2)
                    let key = (0..<Int(1 + rng.next() % 3)).map { _ in UInt8(rng.next() % 5) }
                    let value: [UInt8] = [UInt8(truncatingIfNeeded: s), UInt8(truncatingIfNeeded: s >> 8)]
                    _ = key.withUnsafeBytes { k in value.withUnsafeBytes { mem.insert(table: table, key: k, kind: ValueKind.put, value: $0) } }
                }
                let frozen = mem.freeze()
                for i in frozen.order {
                    let e = frozen.entries[Int(i)]
                    let user = Array(frozen.arena[e.keyOffset..<(e.keyOffset + Int(e.keyLength))])
                    all.append((FullKey.encode(table: TableID(e.table), userKey: user, epoch: frozen.epoch), s))
                }
                let it = MemtableIterator(frozen)
                it.seek(table: 0, userKey: [])
                heap.add(.mem(it))
            }
            all.sort { a, b in
                let c = FullKey.compare(a.0, b.0)
                return c < 0 || (c == 0 && a.1 < b.1)
            }
            var got: [([UInt8], Int)] = []
            while !heap.isEmpty {
                heap.withTopEntry { k, _, v in got.append((Array(k), Int(v[0]) | Int(v[1]) << 8)) }
                try await heap.advanceTop()
            }
            #expect(got.count == all.count, "seed \(seed): \(got.count) entries out of \(all.count) from \(sourceCount) sources")
            for (i, (g, w)) in zip(got, all).enumerated() where g.0 != w.0 || g.1 != w.1 {
                Issue.record("seed \(seed): entry \(i) is \(g.0) from source \(g.1), expected \(w.0) from source \(w.1)")
                break
            }
        }
    }
}
