/// Repositioning a scan: `ScanResult.Iterator.seek(to:)`.
///
/// A seek forward from a returned row (to a key at or after it) steps: on the next
/// `next()`, each source moves forward from where it is, inside its current block
/// when the target is there (no read, no cache lookup), through its file's index
/// when the target is in the same file (one block), and with a full seek only when
/// the target is past the file; so a run of short forward seeks reads no block a
/// plain scan over the same span would not. Any other seek (backward, before the
/// first row, after the end or a pending block load) starts the merge again at the
/// new key over the same pinned version and memtables. Rows already returned stay valid.
extension ScanResult {
    /// The same scan, starting at `key` (or at its own lower bound, if that is later:
    /// not where an earlier seek started it).
    func starting(at key: [UInt8]) -> ScanResult {
        let start = key.lexicographicallyPrecedes(lowerBound) ? lowerBound : key
        return ScanResult(reader: reader, table: table, from: start, to: to, epoch: epoch,
                          memtables: memtables, runs: runs, pin: pin, hidden: hidden, lowerBound: lowerBound)
    }
}

extension ScanResult.Iterator {
    /// Moves the iterator so that `next()` returns the first row with a key >= `key`
    /// inside the scan's bounds (forward or backward from where it is; a key below
    /// the scan's lower bound seeks to that bound, one at or past its upper bound
    /// ends the iteration). Reads at the scan's epoch and version, as before.
    public mutating func seek(to key: [UInt8]) {
        if merge.canStep(to: key) {
            merge.stepLater(to: key)
        } else {
            merge = MergingIterator(merge.scan.starting(at: key))
        }
    }
}
