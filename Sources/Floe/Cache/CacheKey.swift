/// A key of a `ShardedLRUCache`: `Hashable` plus a cheap, well-mixed 64-bit hash.
///
/// The cache picks the shard from the high bits of `cacheHash` and probes the
/// shard's `SlotIndex` with its low 32 bits, so every bit must be mixed. The
/// default is the standard library's seeded hash (`hashValue`, SipHash); the
/// store's own keys override it with a few multiplies, which matters on the
/// point-read path (two cache lookups per SST probed).
///
/// Invariant: equal keys have equal `cacheHash` within one process.
protocol CacheKey: Hashable, Sendable {
    var cacheHash: UInt64 { get }
}

extension CacheKey {
    var cacheHash: UInt64 { UInt64(bitPattern: Int64(hashValue)) }
}

/// The SplitMix64 finalizer: a bijection of `UInt64` whose output bits all depend on every input bit.
@inline(__always)
func mixHash64(_ x: UInt64) -> UInt64 {
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// SST ids (the meta cache).
extension UInt64: CacheKey {
    @inline(__always)
    var cacheHash: UInt64 { mixHash64(self) }
}
