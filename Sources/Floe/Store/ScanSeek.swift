/// Repositioning a scan: `ScanResult.Iterator.seek(to:)`.
///
/// A seek starts the merge again at the new key over the same pinned version and
/// memtables (every source seeks once, through its index and the block cache),
/// which is what a seek of an LSM iterator costs in any case: the sources must all
/// be positioned again. Rows already returned stay valid.
extension ScanResult {
    /// The same scan, starting at `key` (or at its own lower bound, if that is later).
    func starting(at key: [UInt8]) -> ScanResult {
        let start = key.lexicographicallyPrecedes(from) ? from : key
        return ScanResult(reader: reader, table: table, from: start, to: to, epoch: epoch,
                          memtables: memtables, runs: runs, pin: pin, hidden: hidden)
    }
}

extension ScanResult.Iterator {
    /// Moves the iterator so that `next()` returns the first row with a key >= `key`
    /// inside the scan's bounds (forward or backward from where it is; a key below
    /// the scan's lower bound seeks to that bound, one at or past its upper bound
    /// ends the iteration). Reads at the scan's epoch and version, as before.
    public mutating func seek(to key: [UInt8]) {
        merge = MergingIterator(merge.scan.starting(at: key))
    }
}
