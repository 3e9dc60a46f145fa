/// Counters of a `DiskCachedObjectStore` since it was opened (not persisted).
///
/// Every cacheable ranged read (a non-empty range of an SST object) counts as
/// exactly one hit or one miss; a read that found a corrupt entry counts one
/// `corruptDropped` and one miss (it is then served from the remote store).
public struct DiskCacheStatistics: Sendable, Equatable {
    /// Ranged reads served from an entry whose checksum and key matched.
    public var hits: UInt64 = 0
    /// Ranged reads sent to the remote store (no entry, or a dropped one).
    public var misses: UInt64 = 0
    /// Entries removed to keep the byte bound.
    public var evictions: UInt64 = 0
    /// Entries found damaged (wrong size, magic, key or checksum) and removed.
    public var corruptDropped: UInt64 = 0
    /// Reads and writes that bypassed the cache (manifest, leases, whole-object gets, non-SST paths).
    public var bypassed: UInt64 = 0
    /// Entries that could not be written (disk full, permissions): the caller got its bytes anyway.
    public var writeFailures: UInt64 = 0
    /// Entries and bytes (entry file sizes) now in the cache.
    public var entries: Int = 0
    public var bytes: Int = 0

    public init() {}
}
