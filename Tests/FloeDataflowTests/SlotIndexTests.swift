import FloeTesting
import Testing
@testable import FloeDataflow

/// The operator caches' index, checked against a dictionary from key to slot under
/// random inserts, removals, moves and compactions, with hashes that collide on
/// purpose, so that probing past equal hashes, tombstones and rehashing all run.
@Suite struct SlotIndexTests {
    /// A cache as the operators keep one: keys in slots, the index over them.
    struct Cache {
        var keys: [[UInt8]] = []
        var hashes: [UInt64] = []
        var index = SlotIndex()
        /// `bits` of the real hash: few bits make many keys share a hash.
        let bits: Int

        func hash(_ key: [UInt8]) -> UInt64 {
            let h = SlotIndex.hash(key)
            return bits >= 64 ? h : (h & ((1 << UInt64(bits)) - 1)) + 2
        }

        func find(_ key: [UInt8]) -> Int32? { index.find(hash: hash(key)) { keys[Int($0)] == key } }

        mutating func insert(_ key: [UInt8]) {
            keys.append(key)
            hashes.append(hash(key))
            index.insert(hash: hashes.last!, slot: Int32(keys.count - 1))
        }

        mutating func keepOnly(_ keep: [Bool]) {
            let plan = CacheCompaction(keep: keep)
            for s in plan.dropped { index.remove(hash: hashes[s], slot: Int32(s)) }
            for m in plan.moves {
                keys.swapAt(m.from, m.to)
                hashes.swapAt(m.from, m.to)
                index.move(hash: hashes[m.to], from: Int32(m.from), to: Int32(m.to))
            }
            keys.removeLast(keys.count - plan.count)
            hashes.removeLast(hashes.count - plan.count)
        }
    }

    @Test(arguments: ModelSeeds.thinned(Array(1...60) as [UInt64]))
    func randomOperationsMatchADictionary(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        var cache = Cache(bits: [1, 3, 64][Int(g.next() % 3)])
        for _ in 0..<Int(g.next() % 3000) + 200 {
            let key: [UInt8] = [UInt8(g.next() % 16), UInt8(g.next() % 64), UInt8(g.next() % 3)]
            switch g.next() % 10 {
            case 0..<6:
                if cache.find(key) == nil { cache.insert(key) }
            case 6..<9:
                // Drop a random share of the slots, as eviction and closed windows do.
                let p = g.next() % 100
                cache.keepOnly(cache.keys.indices.map { _ in g.next() % 100 >= p })
            default:
                cache.index.removeAll()
                cache.keys.removeAll()
                cache.hashes.removeAll()
            }
            #expect(cache.index.count == cache.keys.count, "seed \(seed)")
        }
        // Every cached key is found at its slot; absent keys are not found.
        var model: [[UInt8]: Int] = [:]
        for (s, k) in cache.keys.enumerated() {
            #expect(model.updateValue(s, forKey: k) == nil, "seed \(seed): key \(k) cached twice")
        }
        for a in 0..<16 {
            for b in 0..<64 {
                for c in 0..<3 {
                    let key: [UInt8] = [UInt8(a), UInt8(b), UInt8(c)]
                    #expect(cache.find(key).map(Int.init) == model[key], "seed \(seed): key \(key)")
                }
            }
        }
    }

    @Test func compactionFillsHolesFromTheEnd() {
        let plan = CacheCompaction(keep: [false, true, false, true, true, false, true])
        #expect(plan.count == 4)
        #expect(plan.dropped == [0, 2, 5])
        // Holes 0 and 2 (below 4) take the kept slots 4 and 6; slot 3 stays.
        #expect(plan.moves.map(\.from) == [4, 6])
        #expect(plan.moves.map(\.to) == [0, 2])
        #expect(CacheCompaction(keep: []).count == 0)
        #expect(CacheCompaction(keep: [true, true]).moves.isEmpty)
        #expect(CacheCompaction(keep: [false, false]).dropped == [0, 1])
        #expect(CacheCompaction.mask([0, 2], count: 4) == [true, false, true, false])
    }
}
