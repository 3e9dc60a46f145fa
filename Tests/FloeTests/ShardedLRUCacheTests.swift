import Synchronization
import Testing
@testable import Floe

// The tests key caches by Int and String through the default (SipHash) cacheHash.
extension Int: CacheKey {}
extension String: CacheKey {}

/// A deliberately naive LRU used as the oracle: entries in an array, least
/// recently used first, every operation a linear scan.
private struct ReferenceLRU {
    var entries: [(key: Int, value: Int, charge: Int)] = []
    let capacity: Int
    var evictions: UInt64 = 0

    init(capacity: Int) { self.capacity = capacity }

    var usage: Int { entries.reduce(0) { $0 + $1.charge } }

    mutating func get(_ key: Int) -> Int? {
        guard let i = entries.firstIndex(where: { $0.key == key }) else { return nil }
        let e = entries.remove(at: i)
        entries.append(e)
        return e.value
    }

    mutating func insert(_ key: Int, _ value: Int, charge: Int) {
        remove(key)
        guard capacity > 0, charge <= capacity else { return }
        entries.append((key, value, charge))
        while usage > capacity {
            entries.removeFirst()
            evictions += 1
        }
    }

    mutating func remove(_ key: Int) {
        entries.removeAll { $0.key == key }
    }

    mutating func removeAll(where predicate: (Int) -> Bool) {
        entries.removeAll { predicate($0.key) }
    }

    /// Most recently used first, like `ShardedLRUCache.entries()`.
    var mruFirst: [(key: Int, value: Int, charge: Int)] { entries.reversed() }
}

private func sameEntries(_ a: [(key: Int, value: Int, charge: Int)], _ b: [(key: Int, value: Int, charge: Int)]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value && $0.charge == $1.charge }
}

private struct LoadFailure: Error, Equatable {}

/// A shareable counter for loader invocations (an `Atomic` alone cannot be captured by escaping closures).
private final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    func increment() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}

@Suite struct ShardedLRUCacheTests {
    @Test func hitAndMissCountersAreExact() {
        let cache = ShardedLRUCache<Int, Int>(capacityBytes: 1 << 20, shardCount: 4)
        #expect(cache.get(1) == nil)
        cache.insert(1, 10, charge: 100)
        cache.insert(2, 20, charge: 100)
        #expect(cache.get(1) == 10)
        #expect(cache.get(2) == 20)
        #expect(cache.get(1) == 10)
        #expect(cache.get(3) == nil)
        // `contains` answers without counting or touching recency.
        #expect(cache.contains(1) && cache.contains(2) && !cache.contains(3))
        let two = ShardedLRUCache<Int, Int>(capacityBytes: 2, shardCount: 1)
        two.insert(1, 1, charge: 1)
        two.insert(2, 2, charge: 1)
        #expect(two.contains(1))
        two.insert(3, 3, charge: 1)
        #expect(!two.contains(1) && two.contains(2) && two.contains(3), "contains did not make 1 recently used")
        let s = cache.stats
        #expect(s.hits == 3)
        #expect(s.misses == 2)
        #expect(s.inserts == 2)
        #expect(s.evictions == 0)
        #expect(s.usageBytes == 200)
        #expect(s.entryCount == 2)
        #expect(s.capacityBytes == 1 << 20)
    }

    @Test func leastRecentlyUsedIsEvictedFirst() {
        // One shard with room for three unit-charge entries.
        let cache = ShardedLRUCache<String, Int>(capacityBytes: 3, shardCount: 1)
        cache.insert("A", 1, charge: 1)
        cache.insert("B", 2, charge: 1)
        cache.insert("C", 3, charge: 1)
        #expect(cache.get("A") == 1)  // A becomes the most recent; B is now the oldest.
        cache.insert("D", 4, charge: 1)
        #expect(cache.get("B") == nil)
        #expect(cache.get("A") == 1)
        #expect(cache.get("C") == 3)
        #expect(cache.get("D") == 4)
        #expect(cache.stats.evictions == 1)

        // The same with room for two: touching A saves it, B goes.
        let two = ShardedLRUCache<String, Int>(capacityBytes: 2, shardCount: 1)
        two.insert("A", 1, charge: 1)
        two.insert("B", 2, charge: 1)
        #expect(two.get("A") == 1)
        two.insert("C", 3, charge: 1)
        #expect(two.entries().map(\.key) == ["C", "A"])
    }

    @Test func replacingAnEntryUpdatesValueAndCharge() {
        let cache = ShardedLRUCache<Int, Int>(capacityBytes: 10, shardCount: 1)
        cache.insert(1, 1, charge: 4)
        cache.insert(2, 2, charge: 4)
        cache.insert(1, 11, charge: 6)  // 1 grows to 6: 6 + 4 = 10 fits.
        #expect(cache.stats.usageBytes == 10)
        cache.insert(2, 22, charge: 5)  // 2 grows to 5: 1 (least recent) must go.
        #expect(cache.get(1) == nil)
        #expect(cache.get(2) == 22)
        #expect(cache.stats.usageBytes == 5)
    }

    @Test func oversizedEntryIsNotCached() {
        let cache = ShardedLRUCache<Int, Int>(capacityBytes: 64, shardCount: 4)  // 16 bytes per shard
        cache.insert(1, 1, charge: 17)
        #expect(cache.get(1) == nil)
        #expect(cache.stats.entryCount == 0)
        #expect(cache.stats.inserts == 0)
        cache.insert(1, 1, charge: 16)
        #expect(cache.get(1) == 1)
        // Replacing with an uncacheable value drops the old one rather than serving it stale.
        cache.insert(1, 2, charge: 1000)
        #expect(cache.get(1) == nil)
        #expect(cache.stats.usageBytes == 0)
    }

    @Test func zeroCapacityDisablesCaching() {
        let cache = ShardedLRUCache<Int, Int>(capacityBytes: 0)
        cache.insert(1, 1, charge: 0)
        #expect(cache.get(1) == nil)
        #expect(cache.stats.misses == 1)
        #expect(cache.stats.entryCount == 0)
        #expect(!cache.isEnabled)
    }

    @Test func removeAndRemoveAllDropExactlyTheMatchingKeys() {
        let cache = ShardedLRUCache<Int, Int>(capacityBytes: 1 << 20, shardCount: 8)
        for k in 0..<1000 { cache.insert(k, k * 2, charge: 10) }
        cache.remove(999)
        #expect(cache.get(999) == nil)
        let removed = cache.removeAll { $0 % 3 == 0 }
        #expect(removed == 333)
        for k in 0..<999 {
            if k % 3 == 0 {
                #expect(cache.get(k) == nil, "key \(k)")
            } else {
                #expect(cache.get(k) == k * 2, "key \(k)")
            }
        }
        let s = cache.stats
        #expect(s.entryCount == 666)
        #expect(s.usageBytes == 6660)
        #expect(s.evictions == 0)
    }

    @Test(arguments: [0x5EED_0001 as UInt64, 0xC0FF_EE00_1234])
    func matchesReferenceModelUnderRandomWorkload(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let capacity = 1000
        let cache = ShardedLRUCache<Int, Int>(capacityBytes: capacity, shardCount: 1)
        var model = ReferenceLRU(capacity: capacity)
        var gets: UInt64 = 0, hits: UInt64 = 0, inserts: UInt64 = 0
        for op in 0..<100_000 {
            let key = Int(rng.next(upperBound: 200 as UInt64))
            switch rng.next(upperBound: 100 as UInt64) {
            case 0..<50:
                gets += 1
                let got = cache.get(key)
                let want = model.get(key)
                if want != nil { hits += 1 }
                #expect(got == want, "seed \(seed) op \(op): get \(key)")
            case 50..<90:
                // Mostly small charges, sometimes large, rarely larger than the cache.
                let charge: Int
                switch rng.next(upperBound: 100 as UInt64) {
                case 0..<80: charge = Int(rng.next(upperBound: 40 as UInt64))
                case 80..<98: charge = Int(rng.next(upperBound: 600 as UInt64))
                default: charge = capacity + 1 + Int(rng.next(upperBound: 10 as UInt64))
                }
                let value = Int(truncatingIfNeeded: rng.next())
                if charge <= capacity { inserts += 1 }
                cache.insert(key, value, charge: charge)
                model.insert(key, value, charge: charge)
            case 90..<98:
                cache.remove(key)
                model.remove(key)
            default:
                let modulus = 2 + Int(rng.next(upperBound: 10 as UInt64))
                let residue = Int(rng.next(upperBound: UInt64(modulus)))
                cache.removeAll { $0 % modulus == residue }
                model.removeAll { $0 % modulus == residue }
            }
            let entries = cache.entries()
            let ok = sameEntries(entries, model.mruFirst)
            #expect(ok, "seed \(seed) op \(op): contents diverge from the reference LRU")
            let s = cache.stats
            #expect(s.usageBytes <= capacity, "seed \(seed) op \(op)")
            #expect(s.usageBytes == model.usage, "seed \(seed) op \(op)")
            if !ok { return }
        }
        let s = cache.stats
        #expect(s.hits == hits, "seed \(seed)")
        #expect(s.misses == gets - hits, "seed \(seed)")
        #expect(s.inserts == inserts, "seed \(seed)")
        #expect(s.evictions == model.evictions, "seed \(seed)")
        #expect(s.entryCount == model.entries.count, "seed \(seed)")
    }

    @Test func concurrentUseKeepsCountersConsistentAndStaysWithinCapacity() async {
        let seed: UInt64 = 0xFEED_BEEF
        let capacity = 16 * 4096
        let cache = ShardedLRUCache<Int, [UInt8]>(capacityBytes: capacity, shardCount: 16)
        let tasks = 8, opsPerTask = 20_000
        let totals = await withTaskGroup(of: (gets: UInt64, inserts: UInt64, anomaly: Bool).self) { group in
            for t in 0..<tasks {
                group.addTask {
                    var rng = SplitMix64(seed: seed &+ UInt64(t))
                    var gets: UInt64 = 0, inserts: UInt64 = 0, anomaly = false
                    for op in 0..<opsPerTask {
                        let key = Int(rng.next(upperBound: 2000 as UInt64))
                        if rng.next(upperBound: 4 as UInt64) == 0 {
                            let charge = 1 + Int(rng.next(upperBound: 512 as UInt64))
                            cache.insert(key, [UInt8(truncatingIfNeeded: key)], charge: charge)
                            inserts += 1
                        } else {
                            gets += 1
                            if let v = cache.get(key), v != [UInt8(truncatingIfNeeded: key)] { anomaly = true }
                        }
                        if op % 1000 == 0 && cache.stats.usageBytes > capacity { anomaly = true }
                    }
                    return (gets, inserts, anomaly)
                }
            }
            var sum: (gets: UInt64, inserts: UInt64, anomaly: Bool) = (0, 0, false)
            for await r in group {
                sum.gets += r.gets
                sum.inserts += r.inserts
                sum.anomaly = sum.anomaly || r.anomaly
            }
            return sum
        }
        let s = cache.stats
        #expect(!totals.anomaly, "seed \(seed)")
        #expect(s.hits + s.misses == totals.gets, "seed \(seed)")
        #expect(s.inserts == totals.inserts, "seed \(seed)")
        #expect(s.usageBytes <= capacity, "seed \(seed)")
        let entries = cache.entries()
        #expect(entries.count == s.entryCount, "seed \(seed)")
        #expect(entries.reduce(0) { $0 + $1.charge } == s.usageBytes, "seed \(seed)")
    }

    @Test func getOrLoadLoadsOnceAndHitsAfterwards() async throws {
        let cache = ShardedLRUCache<Int, [UInt8]>(capacityBytes: 1 << 20)
        let loads = Counter()
        for _ in 0..<3 {
            let v = try await cache.getOrLoad(7, charge: { $0.count }) {
                loads.increment()
                return [1, 2, 3]
            }
            #expect(v == [1, 2, 3])
        }
        #expect(loads.value == 1)
        #expect(cache.stats.hits == 2)
        #expect(cache.stats.usageBytes == 3)
    }

    @Test func concurrentMissesOfOneKeyLoadOnce() async throws {
        let cache = ShardedLRUCache<Int, Int>(capacityBytes: 1 << 20)
        let loads = Counter()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    try await cache.getOrLoad(1, charge: { _ in 8 }) {
                        loads.increment()
                        try await Task.sleep(for: .milliseconds(20))
                        return 42
                    }
                }
            }
            for try await v in group { #expect(v == 42) }
        }
        // Either a caller waits on the flight or finds the value cached: never a second load.
        #expect(loads.value == 1)
    }

    @Test func getOrLoadDoesNotCacheErrors() async throws {
        let cache = ShardedLRUCache<Int, Int>(capacityBytes: 1 << 20)
        await #expect(throws: LoadFailure.self) {
            try await cache.getOrLoad(1, charge: { _ in 8 }) { throw LoadFailure() }
        }
        #expect(cache.stats.entryCount == 0)
        let v = try await cache.getOrLoad(1, charge: { _ in 8 }) { 5 }
        #expect(v == 5)
        #expect(cache.get(1) == 5)
    }

    @Test func cancelledLeaderHandsTheLoadToAWaiter() async throws {
        let cache = ShardedLRUCache<Int, Int>(capacityBytes: 1 << 20)
        let (started, startedSignal) = AsyncStream<Void>.makeStream()
        let leader = Task {
            try await cache.getOrLoad(1, charge: { _ in 8 }) {
                startedSignal.yield()
                // Only cancellation ends this load: a fixed sleep could run out first
                // on a starved machine (it did under ThreadSanitizer) and return 1.
                while true { try await Task.sleep(for: .seconds(3600)) }
            }
        }
        var it = started.makeAsyncIterator()
        _ = await it.next()
        let waiter = Task { try await cache.getOrLoad(1, charge: { _ in 8 }) { 2 } }
        try await Task.sleep(for: .milliseconds(20))
        leader.cancel()
        await #expect(throws: CancellationError.self) { try await leader.value }
        #expect(try await waiter.value == 2)
        #expect(cache.get(1) == 2)
    }

    @Test func cancelledWaiterStopsWaiting() async throws {
        let cache = ShardedLRUCache<Int, Int>(capacityBytes: 1 << 20)
        let (started, startedSignal) = AsyncStream<Void>.makeStream()
        let (gate, release) = AsyncStream<Void>.makeStream()
        let leader = Task {
            try await cache.getOrLoad(1, charge: { _ in 8 }) {
                startedSignal.yield()
                var g = gate.makeAsyncIterator()
                _ = await g.next()
                return 1
            }
        }
        var it = started.makeAsyncIterator()
        _ = await it.next()
        let waiterLoads = Counter()
        let waiter = Task {
            try await cache.getOrLoad(1, charge: { _ in 8 }) {
                waiterLoads.increment()
                return 2
            }
        }
        try await Task.sleep(for: .milliseconds(20))
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        release.yield()
        #expect(try await leader.value == 1)
        #expect(waiterLoads.value == 0)
        #expect(cache.get(1) == 1)
    }
}
