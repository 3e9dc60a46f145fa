import Synchronization

/// Hit, miss and occupancy counters of a `ShardedLRUCache`, summed over its shards.
///
/// The snapshot is taken shard by shard, so under concurrent use the sums are
/// not one atomic cut; each shard's numbers are exact.
package struct CacheStats: Sendable, Equatable {
    /// `get` calls (and `getOrLoad` lookups) that found the key.
    package var hits: UInt64
    /// `get` calls (and `getOrLoad` lookups) that did not find the key.
    package var misses: UInt64
    /// Entries stored by `insert` (a replacement counts; an uncacheable entry does not).
    package var inserts: UInt64
    /// Entries pushed out to make room. Explicit removals and replacements are not evictions.
    package var evictions: UInt64
    /// Sum of the charges of the cached entries.
    package var usageBytes: Int
    /// The configured capacity of the whole cache.
    package var capacityBytes: Int
    /// Number of cached entries.
    package var entryCount: Int

    package init(
        hits: UInt64 = 0, misses: UInt64 = 0, inserts: UInt64 = 0, evictions: UInt64 = 0,
        usageBytes: Int = 0, capacityBytes: Int = 0, entryCount: Int = 0
    ) {
        self.hits = hits
        self.misses = misses
        self.inserts = inserts
        self.evictions = evictions
        self.usageBytes = usageBytes
        self.capacityBytes = capacityBytes
        self.entryCount = entryCount
    }

    /// Hits over lookups, or 0 before the first lookup.
    package var hitRate: Double {
        let lookups = hits + misses
        return lookups == 0 ? 0 : Double(hits) / Double(lookups)
    }
}

/// A least-recently-used cache bounded by the sum of its entries' charges (bytes),
/// split into independently locked shards so concurrent readers rarely contend.
///
/// Invariants:
/// - A key lives in exactly one shard, chosen from the high bits of its `cacheHash`.
/// - Each shard holds at most `capacityBytes / shardCount` bytes of charge after
///   every operation; the whole cache therefore never exceeds `capacityBytes`.
/// - An entry whose charge exceeds the shard capacity is never cached.
/// - A capacity of 0 disables caching: `get` always misses and `insert` stores nothing.
/// - A hit does not allocate and hashes the key once: the shard's `SlotIndex`
///   maps the low hash bits to a slot, and the LRU list is intrusive, kept in a
///   slot array that is reused through a free list.
final class ShardedLRUCache<Key: CacheKey, Value: Sendable>: Sendable {
    /// The capacity the cache was created with.
    let capacityBytes: Int
    /// Capacity of each shard: `capacityBytes / shardCount`.
    let shardCapacity: Int
    private let shards: [ShardBox]
    /// Misses currently being loaded by `getOrLoad`, so concurrent misses of one key load once.
    private let flights: Lock<FlightTable>
    /// Source of waiter identities for `getOrLoad` cancellation.
    private let nextWaiterID = Atomic<UInt64>(0)

    /// - Parameters:
    ///   - capacityBytes: upper bound on the sum of the charges of the cached entries; 0 disables caching.
    ///   - shardCount: number of independently locked shards (at least 1).
    init(capacityBytes: Int, shardCount: Int = 16) {
        precondition(capacityBytes >= 0, "cache capacity must not be negative")
        precondition(shardCount >= 1, "a cache needs at least one shard")
        self.capacityBytes = capacityBytes
        self.shardCapacity = capacityBytes / shardCount
        let perShard = capacityBytes / shardCount
        self.shards = (0..<shardCount).map { _ in ShardBox(capacity: perShard) }
        self.flights = Lock(FlightTable())
    }

    /// Whether the cache can hold anything at all.
    var isEnabled: Bool { shardCapacity > 0 }

    /// The shard owning a key of hash `hash`: its high bits mapped onto the shard
    /// count, so the choice is independent of the low bits the shard's index uses.
    @inline(__always)
    private func shard(for hash: UInt64) -> ShardBox {
        shards[Int(truncatingIfNeeded: hash.multipliedFullWidth(by: UInt64(shards.count)).high)]
    }

    /// Returns the cached value and makes it the most recently used; counts a hit or a miss.
    func get(_ key: Key) -> Value? {
        let hash = key.cacheHash
        return shard(for: hash).state.withLock { $0.get(key, hash: hash, countStats: true) }
    }

    /// The cached value, made the most recently used and counted as a hit; nil
    /// without counting a miss. For a synchronous try before an async load that
    /// counts the miss itself (`getOrLoad`), so a miss is not counted twice.
    func getIfCached(_ key: Key) -> Value? {
        let hash = key.cacheHash
        return shard(for: hash).state.withLock { s in
            guard let v = s.get(key, hash: hash, countStats: false) else { return nil }
            s.hits &+= 1
            return v
        }
    }

    /// Whether `key` is cached. Touches neither recency nor the counters.
    func contains(_ key: Key) -> Bool {
        let hash = key.cacheHash
        return shard(for: hash).state.withLock { $0.contains(key, hash: hash) }
    }

    /// Caches `value` under `key` with the given charge, replacing any previous
    /// entry, then evicts least-recently-used entries until the shard fits its
    /// capacity. An entry larger than the shard capacity is not cached (and any
    /// previous entry of the key is dropped, so no stale value survives).
    func insert(_ key: Key, _ value: Value, charge: Int) {
        precondition(charge >= 0, "cache charge must not be negative")
        let hash = key.cacheHash
        shard(for: hash).state.withLock { $0.insert(key, hash: hash, value, charge: charge) }
    }

    /// Drops the entry of `key`, if cached.
    func remove(_ key: Key) {
        let hash = key.cacheHash
        shard(for: hash).state.withLock { $0.remove(key, hash: hash) }
    }

    /// Drops every entry whose key satisfies `predicate` (e.g. all blocks of a
    /// deleted SST). Visits every shard; `predicate` runs under the shard lock and
    /// must not touch the cache. Returns the number of entries dropped.
    @discardableResult
    func removeAll(where predicate: (Key) -> Bool) -> Int {
        var removed = 0
        for box in shards {
            removed += box.state.withLock { $0.removeAll(where: predicate) }
        }
        return removed
    }

    /// Counters and occupancy summed over all shards.
    var stats: CacheStats {
        var s = CacheStats(capacityBytes: capacityBytes)
        for box in shards {
            box.state.withLock { shard in
                s.hits &+= shard.hits
                s.misses &+= shard.misses
                s.inserts &+= shard.inserts
                s.evictions &+= shard.evictions
                s.usageBytes += shard.usage
                s.entryCount += shard.count
            }
        }
        return s
    }

    /// Every cached entry, shard by shard, most recently used first. Allocates;
    /// for tests and debugging only. Does not touch recency or counters.
    func entries() -> [(key: Key, value: Value, charge: Int)] {
        var out: [(key: Key, value: Value, charge: Int)] = []
        for box in shards {
            box.state.withLock { shard in
                var slot = shard.slots[0].next
                while slot != 0 {
                    let s = shard.slots[Int(slot)]
                    if let key = s.key, let value = s.value { out.append((key, value, s.charge)) }
                    slot = s.next
                }
            }
        }
        return out
    }

    // MARK: - Loading through the cache

    /// Returns the cached value of `key`, or runs `load`, caches its result with
    /// `charge(value)` and returns it.
    ///
    /// Concurrent misses of the same key are coalesced: one caller (the leader)
    /// loads, the others wait for its result. Errors are never cached: a failed
    /// load is reported to the leader and to the callers waiting at that moment,
    /// and the next caller loads afresh. If the leader is cancelled, its waiters
    /// are not failed with its cancellation; one of them loads instead. A waiter
    /// that is itself cancelled stops waiting and throws `CancellationError`.
    func getOrLoad(
        _ key: Key, charge: (Value) -> Int, load: () async throws -> Value
    ) async throws -> Value {
        if let hit = get(key) { return hit }
        while true {
            switch try await joinFlight(key) {
            case .value(let value):
                // The leader built `value` before taking this lock in `finishFlight`;
                // taking it here orders that with this task's reads for ThreadSanitizer,
                // which does not see the hand-over through the continuation (the
                // concurrency runtime and Dispatch are not instrumented). Costs one
                // uncontended lock per waiter, never on a hit.
                flights.withLock { _ in }
                return value
            case .retry:
                continue
            case .lead:
                return try await lead(key, charge: charge, load: load)
            }
        }
    }

    /// Loads `key` as the leader of its flight and hands the outcome to the waiters.
    private func lead(
        _ key: Key, charge: (Value) -> Int, load: () async throws -> Value
    ) async throws -> Value {
        // A previous leader may have finished between our miss and our joining.
        let hash = key.cacheHash
        if let value = shard(for: hash).state.withLock({ $0.get(key, hash: hash, countStats: false) }) {
            finishFlight(key, with: .value(value))
            return value
        }
        do {
            let value = try await load()
            // Insert before ending the flight so a caller arriving afterwards hits.
            insert(key, value, charge: charge(value))
            finishFlight(key, with: .value(value))
            return value
        } catch {
            if error is CancellationError || Task.isCancelled {
                finishFlight(key, with: .retry)
            } else {
                finishFlight(key, with: .failure(error))
            }
            throw error
        }
    }

    /// Becomes the leader of `key`'s flight, or waits for the current leader.
    private func joinFlight(_ key: Key) async throws -> FlightOutcome {
        let waiterID = nextWaiterID.wrappingAdd(1, ordering: .relaxed).newValue
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<FlightOutcome, any Error>) in
                // The cancellation check and the registration share the lock with
                // the cancellation handler, so a waiter is either never registered
                // (and fails here) or is found and failed by the handler.
                let decision: FlightJoin = flights.withLock { table in
                    if Task.isCancelled { return .cancelled }
                    if table.waiters[key] == nil {
                        table.waiters[key] = [:]
                        return .lead
                    }
                    table.waiters[key]![waiterID] = continuation
                    return .wait
                }
                switch decision {
                case .lead: continuation.resume(returning: .lead)
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .wait: break
                }
            }
        } onCancel: {
            let continuation = flights.withLock { table in
                table.waiters[key]?.removeValue(forKey: waiterID)
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    private enum Completion {
        case value(Value)
        case retry
        case failure(any Error)
    }

    /// Ends `key`'s flight and resumes everyone waiting on it.
    private func finishFlight(_ key: Key, with completion: Completion) {
        guard let waiters = flights.withLock({ $0.waiters.removeValue(forKey: key) }) else { return }
        for continuation in waiters.values {
            switch completion {
            case .value(let value): continuation.resume(returning: .value(value))
            case .retry: continuation.resume(returning: .retry)
            case .failure(let error): continuation.resume(throwing: error)
            }
        }
    }
}

// MARK: - Single-flight bookkeeping

/// How a `getOrLoad` caller joined a flight: it leads, it was already cancelled, or it waits.
private enum FlightJoin { case lead, cancelled, wait }

extension ShardedLRUCache {
    /// What a `getOrLoad` caller does after joining a flight.
    fileprivate enum FlightOutcome: Sendable {
        /// The caller is the leader and must load.
        case lead
        /// The leader loaded this value.
        case value(Value)
        /// The leader was cancelled; try again (possibly as the new leader).
        case retry
    }

    /// In-flight loads: a key is present exactly while its leader is loading;
    /// the inner map holds the waiters by identity so a cancelled waiter can leave.
    fileprivate struct FlightTable: Sendable {
        var waiters: [Key: [UInt64: CheckedContinuation<FlightOutcome, any Error>]] = [:]
    }
}

// MARK: - Shards

extension ShardedLRUCache {
    /// One shard behind its own lock. A class so the lock (non-copyable) can live in an array.
    fileprivate final class ShardBox: Sendable {
        let state: Lock<Shard>
        init(capacity: Int) { state = Lock(Shard(capacity: capacity)) }
    }

    /// A single-threaded LRU map: an index from key hash to slot number plus an
    /// intrusive circular doubly-linked list threaded through `slots`.
    ///
    /// Invariants:
    /// - `slots[0]` is the sentinel: its `next` is the most recently used entry,
    ///   its `prev` the least recently used; an empty list links it to itself.
    /// - Every live slot is in `index` (under the low 32 bits of its key's
    ///   `cacheHash`) and in the list exactly once; every other
    ///   slot (except the sentinel) is on the free list, chained through `next`,
    ///   with `key` and `value` cleared so nothing is retained.
    /// - `usage` is the sum of the charges of the live slots and is at most
    ///   `capacity` between operations.
    fileprivate struct Shard: Sendable {
        struct Slot: Sendable {
            var key: Key?
            var value: Value?
            var charge: Int
            var prev: Int32
            var next: Int32
        }

        let capacity: Int
        var index = SlotIndex()
        var slots: [Slot]
        /// Head of the free-slot chain, or -1.
        var freeHead: Int32 = -1
        var usage = 0
        var hits: UInt64 = 0
        var misses: UInt64 = 0
        var inserts: UInt64 = 0
        var evictions: UInt64 = 0

        init(capacity: Int) {
            self.capacity = capacity
            slots = [Slot(key: nil, value: nil, charge: 0, prev: 0, next: 0)]
        }

        var count: Int { index.count }

        @inline(__always)
        private func find(_ key: Key, hash: UInt64) -> Int32? {
            index.find(tag: UInt32(truncatingIfNeeded: hash)) { slots[Int($0)].key == key }
        }

        mutating func get(_ key: Key, hash: UInt64, countStats: Bool) -> Value? {
            guard let slot = find(key, hash: hash) else {
                if countStats { misses &+= 1 }
                return nil
            }
            if countStats { hits &+= 1 }
            moveToFront(slot)
            return slots[Int(slot)].value
        }

        func contains(_ key: Key, hash: UInt64) -> Bool { find(key, hash: hash) != nil }

        mutating func insert(_ key: Key, hash: UInt64, _ value: Value, charge: Int) {
            guard charge <= capacity, capacity > 0 else {
                // Not cacheable; drop any older value so it cannot be served stale.
                remove(key, hash: hash)
                return
            }
            inserts &+= 1
            if let slot = find(key, hash: hash) {
                let i = Int(slot)
                usage += charge - slots[i].charge
                slots[i].value = value
                slots[i].charge = charge
                moveToFront(slot)
            } else {
                let slot = allocateSlot(key, value, charge: charge)
                index.insert(tag: UInt32(truncatingIfNeeded: hash), slot: slot)
                usage += charge
                linkFront(slot)
            }
            // The new entry is at the front and fits alone, so it is never the victim.
            while usage > capacity {
                let victim = slots[0].prev
                evictions &+= 1
                drop(victim)
            }
        }

        mutating func remove(_ key: Key, hash: UInt64) {
            if let slot = find(key, hash: hash) { drop(slot) }
        }

        mutating func removeAll(where predicate: (Key) -> Bool) -> Int {
            var removed = 0
            var slot = slots[0].next
            while slot != 0 {
                let next = slots[Int(slot)].next
                if let key = slots[Int(slot)].key, predicate(key) {
                    drop(slot)
                    removed += 1
                }
                slot = next
            }
            return removed
        }

        /// Unlinks a live slot, forgets its key and returns it to the free list.
        private mutating func drop(_ slot: Int32) {
            let i = Int(slot)
            unlink(slot)
            if let key = slots[i].key { index.remove(tag: UInt32(truncatingIfNeeded: key.cacheHash), slot: slot) }
            usage -= slots[i].charge
            slots[i].key = nil
            slots[i].value = nil
            slots[i].charge = 0
            slots[i].prev = -1
            slots[i].next = freeHead
            freeHead = slot
        }

        private mutating func allocateSlot(_ key: Key, _ value: Value, charge: Int) -> Int32 {
            if freeHead >= 0 {
                let slot = freeHead
                let i = Int(slot)
                freeHead = slots[i].next
                slots[i].key = key
                slots[i].value = value
                slots[i].charge = charge
                return slot
            }
            precondition(slots.count < Int(Int32.max), "cache shard holds too many entries")
            slots.append(Slot(key: key, value: value, charge: charge, prev: -1, next: -1))
            return Int32(slots.count - 1)
        }

        @inline(__always)
        private mutating func unlink(_ slot: Int32) {
            let i = Int(slot)
            let prev = slots[i].prev
            let next = slots[i].next
            slots[Int(prev)].next = next
            slots[Int(next)].prev = prev
        }

        @inline(__always)
        private mutating func linkFront(_ slot: Int32) {
            let first = slots[0].next
            slots[Int(slot)].prev = 0
            slots[Int(slot)].next = first
            slots[Int(first)].prev = slot
            slots[0].next = slot
        }

        @inline(__always)
        private mutating func moveToFront(_ slot: Int32) {
            guard slots[0].next != slot else { return }
            unlink(slot)
            linkFront(slot)
        }
    }
}
