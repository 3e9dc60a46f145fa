/// The key index of one `ShardedLRUCache` shard: an open-addressing table
/// (linear probing, power-of-two size, at most half full) from a key's 32-bit
/// hash tag to the shard's slot number. The keys themselves live in the slots;
/// a lookup compares the key of every slot whose tag matches.
///
/// One bucket is a `UInt64`, `tag << 32 | slot`, and 0 marks an empty bucket
/// (slot 0 is the shard's sentinel and never indexed). A probe therefore reads
/// one dense array, usually one cache line, and hashing is the caller's
/// (`CacheKey.cacheHash`), where `Dictionary` would hash twice with SipHash
/// and read separate key and value arrays.
///
/// Invariants:
/// - Every indexed slot appears in exactly one bucket, reachable from bucket
///   `tag & mask` without crossing an empty bucket (deletion shifts entries
///   back instead of leaving tombstones).
/// - `count * 2 <= buckets.count`.
struct SlotIndex: Sendable {
    private var buckets: [UInt64]
    private var mask: Int
    private(set) var count = 0

    init() {
        buckets = [UInt64](repeating: 0, count: 16)
        mask = 15
    }

    @inline(__always)
    private static func bucket(tag: UInt32, slot: Int32) -> UInt64 {
        UInt64(tag) << 32 | UInt64(UInt32(bitPattern: slot))
    }

    /// The first slot in probe order whose tag is `tag` and for which `matches` is true.
    @inline(__always)
    func find(tag: UInt32, where matches: (Int32) -> Bool) -> Int32? {
        buckets.withUnsafeBufferPointer { b in
            var i = Int(tag) & mask
            while true {
                let e = b[i]
                if e == 0 { return nil }
                if UInt32(truncatingIfNeeded: e >> 32) == tag {
                    let slot = Int32(truncatingIfNeeded: e)
                    if matches(slot) { return slot }
                }
                i = (i + 1) & mask
            }
        }
    }

    /// Indexes `slot` (> 0, not indexed yet) under `tag`.
    mutating func insert(tag: UInt32, slot: Int32) {
        precondition(slot > 0, "slot 0 is the sentinel")
        if (count + 1) * 2 > buckets.count { grow() }
        place(Self.bucket(tag: tag, slot: slot))
        count += 1
    }

    /// Removes the entry of `slot`, indexed under `tag`.
    mutating func remove(tag: UInt32, slot: Int32) {
        let want = Self.bucket(tag: tag, slot: slot)
        var hole = Int(tag) & mask
        while buckets[hole] != want {
            precondition(buckets[hole] != 0, "slot \(slot) is not indexed under its tag")
            hole = (hole + 1) & mask
        }
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
