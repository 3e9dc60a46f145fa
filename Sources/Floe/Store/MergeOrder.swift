/// The direction a `DirectedMergeHeap` yields keys in: a type parameter rather than
/// a stored flag, so the specialised forward merge compares exactly as before and
/// the backward one costs no branch per comparison either.
protocol MergeOrder {
    /// True for descending full-key order (reverse scans).
    static var descending: Bool { get }
}

/// Ascending full-key order: scans, compaction. Of equal keys, the source listed
/// first (the newer) comes first.
enum AscendingKeys: MergeOrder {
    static var descending: Bool { false }
}

/// Descending full-key order: reverse scans. The exact reverse of `AscendingKeys`:
/// of equal keys the source listed last comes first, so the newest comes last, as
/// the newest version of a user key does (epochs ascend backwards).
enum DescendingKeys: MergeOrder {
    static var descending: Bool { true }
}
