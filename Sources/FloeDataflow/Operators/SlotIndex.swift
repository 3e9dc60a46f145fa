import CXXHash

/// An operator cache's index from byte keys to slots: an open-addressing hash
/// table of (64-bit hash, slot) buckets that leaves the keys with the cache.
///
/// A `Dictionary` from keys to slots hashes a key (reading its bytes: a cache
/// miss per key) on every insert, on every removal and on every move of the entries
/// after a removed one, and removing a million keys that way took most of a
/// second. Here the cache keeps each entry's hash next to it (`hash(_:)`), so
/// removing a key or pointing it at another slot finds its bucket by hash and slot
/// alone, reads no key and moves nothing (a removed bucket becomes a tombstone),
/// and growing rehashes nothing. Lookups compare hashes first and ask the caller
/// to compare the key only on an equal hash.
///
/// Invariants: every live slot is in exactly one bucket; hashes are at least 2
/// (0 marks an empty bucket, 1 a tombstone); live plus tombstone buckets stay at
/// most 3/4 of the capacity, a power of two.
struct SlotIndex: Sendable {
    private struct Bucket {
        var hash: UInt64
        var slot: Int32
    }

    private static let empty: UInt64 = 0
    private static let tombstone: UInt64 = 1

    private var buckets: [Bucket]
    private var mask: Int
    /// Live buckets.
    private(set) var count = 0
    /// Live and tombstone buckets.
    private var used = 0

    init(capacity: Int = 16) {
        var c = 16
        while c * 3 / 4 < capacity { c <<= 1 }
        buckets = Array(repeating: Bucket(hash: Self.empty, slot: -1), count: c)
        mask = c - 1
    }

    /// The hash of `key` the index files it under (never 0 or 1).
    static func hash(_ key: [UInt8]) -> UInt64 {
        let h = key.withUnsafeBytes { floe_xxh3_64($0.baseAddress, $0.count) }
        return h < 2 ? h + 2 : h
    }

    /// The slot of the key with hash `hash` for which `matches` (called with
    /// candidate slots whose hash is equal) holds, or nil.
    func find(hash: UInt64, matches: (Int32) -> Bool) -> Int32? {
        var i = Int(truncatingIfNeeded: hash) & mask
        while true {
            let b = buckets[i]
            if b.hash == Self.empty { return nil }
            if b.hash == hash && matches(b.slot) { return b.slot }
            i = (i + 1) & mask
        }
    }

    /// Files `slot` under `hash`. The key must not be in the index.
    mutating func insert(hash: UInt64, slot: Int32) {
        if (used + 1) * 4 > buckets.count * 3 { rehash(grow: (count + 1) * 2 > buckets.count) }
        var i = Int(truncatingIfNeeded: hash) & mask
        while buckets[i].hash > Self.tombstone { i = (i + 1) & mask }
        if buckets[i].hash == Self.empty { used += 1 }
        buckets[i] = Bucket(hash: hash, slot: slot)
        count += 1
    }

    /// Removes the key filed under `hash` at `slot` (which must be in the index).
    mutating func remove(hash: UInt64, slot: Int32) {
        let i = bucket(hash: hash, slot: slot)
        buckets[i] = Bucket(hash: Self.tombstone, slot: -1)
        count -= 1
    }

    /// Points the key filed under `hash` at slot `from` to slot `to`.
    mutating func move(hash: UInt64, from: Int32, to: Int32) {
        buckets[bucket(hash: hash, slot: from)].slot = to
    }

    mutating func removeAll() {
        for i in buckets.indices { buckets[i] = Bucket(hash: Self.empty, slot: -1) }
        count = 0
        used = 0
    }

    private func bucket(hash: UInt64, slot: Int32) -> Int {
        var i = Int(truncatingIfNeeded: hash) & mask
        while true {
            let b = buckets[i]
            precondition(b.hash != Self.empty, "SlotIndex: slot \(slot) is not filed under its hash")
            if b.hash == hash && b.slot == slot { return i }
            i = (i + 1) & mask
        }
    }

    /// Refiles the live buckets without tombstones, in a table twice as large when
    /// `grow`.
    private mutating func rehash(grow: Bool) {
        let old = buckets
        let c = grow ? old.count * 2 : old.count
        buckets = Array(repeating: Bucket(hash: Self.empty, slot: -1), count: c)
        mask = c - 1
        used = count
        for b in old where b.hash > Self.tombstone {
            var i = Int(truncatingIfNeeded: b.hash) & mask
            while buckets[i].hash != Self.empty { i = (i + 1) & mask }
            buckets[i] = b
        }
    }
}
