/// How a `DiskCachedObjectStore` keeps its local cache (docs/s3.md, "Local disk cache").
///
/// Invariants: `directory` is a non-empty path without NUL; `capacityBytes` is
/// positive. An entry file larger than `capacityBytes` is never kept (the read is
/// served from the remote store only).
public struct DiskCacheOptions: Sendable, Equatable {
    /// Directory of the entry files; created (with missing ancestors) if missing.
    /// One cache directory should serve one remote store: the remote store's
    /// namespace is part of every entry's key, so sharing is never wrong, only
    /// wasteful (each process bounds only the entries it knows).
    public var directory: String
    /// Bound on the total size of the entry files (header, payload and checksum), in bytes.
    public var capacityBytes: Int
    /// Whether a `put` of an SST object also writes the ranges a reader asks for
    /// (footer, meta tail, index tail, every data block) into the cache, so a
    /// process serves what it just wrote (compaction outputs, synced SSTs) without
    /// reading it back from the remote store.
    public var writeThrough: Bool

    public init(directory: String, capacityBytes: Int, writeThrough: Bool = false) {
        self.directory = directory
        self.capacityBytes = capacityBytes
        self.writeThrough = writeThrough
    }

    /// Throws `FloeError.invalidArgument` unless the options keep the invariants.
    public func validate() throws {
        if directory.isEmpty || directory.utf8.contains(0) {
            throw FloeError.invalidArgument("disk cache directory must be a non-empty path without NUL: \(directory.debugDescription)")
        }
        if capacityBytes <= 0 {
            throw FloeError.invalidArgument("disk cache capacity must be positive: \(capacityBytes)")
        }
    }
}
