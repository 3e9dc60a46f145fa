/// The key index of a cache whose entries live in numbered slots (one
/// `ShardedLRUCache` shard; a dataflow operator's cache): an open-addressing
/// table (linear probing, power-of-two size, at most half full) from a key's
/// 32-bit hash tag to its slot number. The keys themselves live in the slots;
/// a lookup compares the key of every slot whose tag matches.
///
/// One bucket is a `UInt64`, `tag << 32 | (slot + 1)`, and 0 marks an empty
/// bucket. A probe therefore reads one dense array, usually one cache line, and
/// hashing is the caller's (`CacheKey.cacheHash`), where `Dictionary` would hash
/// twice with SipHash and read separate key and value arrays. Removing or moving
/// a slot reads no key: the caller keeps each slot's tag, so dropping a million
/// entries of an operator's cache costs no key hashing at all, where a
/// `Dictionary` rehashed every key it shifted.
///
/// Invariants:
/// - Every indexed slot appears in exactly one bucket, reachable from bucket
///   `tag & mask` without crossing an empty bucket (deletion shifts entries
///   back instead of leaving tombstones).
/// - `count * 2 <= buckets.count`.
package struct SlotIndex: Sendable {
    // Inlinable into the dataflow operators: a call across modules with a
    // closure would copy the calling operator to capture it, per lookup.
    @usableFromInline var buckets: [UInt64]
    @usableFromInline var mask: Int
    package private(set) var count = 0

    package init() {
        buckets = [UInt64](repeating: 0, count: 16)
        mask = 15
    }

    @inline(__always)
    private static func bucket(tag: UInt32, slot: Int32) -> UInt64 {
        UInt64(tag) << 32 | UInt64(UInt32(bitPattern: slot) &+ 1)
    }

    /// The first slot in probe order whose tag is `tag` and for which `matches` is true.
    @inlinable @inline(__always)
    package func find(tag: UInt32, where matches: (Int32) -> Bool) -> Int32? {
        buckets.withUnsafeBufferPointer { b in
            var i = Int(tag) & mask
            while true {
                let e = b[i]
                if e == 0 { return nil }
                if UInt32(truncatingIfNeeded: e >> 32) == tag {
                    let slot = Int32(truncatingIfNeeded: e) &- 1
                    if matches(slot) { return slot }
                }
                i = (i + 1) & mask
            }
        }
    }

    /// Indexes `slot` (>= 0, not indexed yet) under `tag`.
    package mutating func insert(tag: UInt32, slot: Int32) {
        precondition(slot >= 0 && slot < .max, "slot \(slot) out of range")
        if (count + 1) * 2 > buckets.count { grow() }
        place(Self.bucket(tag: tag, slot: slot))
        count += 1
    }

    /// Removes the entry of `slot`, indexed under `tag`.
    package mutating func remove(tag: UInt32, slot: Int32) {
        var hole = position(tag: tag, slot: slot)
        // Backward shift: pull later entries of the probe run into the hole unless
        // that would move one before its home bucket.
        var j = hole
        while true {
            j = (j + 1) & mask
            let e = buckets[j]
            if e == 0 { break }
            let home = Int(UInt32(truncatingIfNeeded: e >> 32)) & mask
            if (hole &- home) & mask < (j &- home) & mask {
                buckets[hole] = e
                hole = j
            }
        }
        buckets[hole] = 0
        count -= 1
    }

    /// Points the entry of slot `from`, indexed under `tag`, at slot `to` (not
    /// indexed): the entry keeps its bucket.
    package mutating func move(tag: UInt32, from: Int32, to: Int32) {
        precondition(to >= 0 && to < .max, "slot \(to) out of range")
        buckets[position(tag: tag, slot: from)] = Self.bucket(tag: tag, slot: to)
    }

    /// Empties the index, keeping its capacity.
    package mutating func removeAll() {
        for i in buckets.indices { buckets[i] = 0 }
        count = 0
    }

    /// The bucket of `slot`, indexed under `tag`.
    private func position(tag: UInt32, slot: Int32) -> Int {
        let want = Self.bucket(tag: tag, slot: slot)
        var i = Int(tag) & mask
        while buckets[i] != want {
            precondition(buckets[i] != 0, "slot \(slot) is not indexed under its tag")
            i = (i + 1) & mask
        }
        return i
    }

    private mutating func place(_ e: UInt64) {
        var i = Int(UInt32(truncatingIfNeeded: e >> 32)) & mask
        while buckets[i] != 0 { i = (i + 1) & mask }
        buckets[i] = e
    }

    private mutating func grow() {
        let old = buckets
        buckets = [UInt64](repeating: 0, count: old.count * 2)
        mask = buckets.count - 1
        for e in old where e != 0 { place(e) }
    }
}
