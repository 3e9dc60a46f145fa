import Synchronization

/// Scans of the keys that start with a prefix: `StateStore.scan(_:prefix:epoch:)`
/// and `Snapshot.scan(_:prefix:)`.
///
/// A prefix scan is the range scan `[prefix, successor(prefix))` over fewer files:
/// before the merge starts, each sorted run keeps only the files whose key range
/// can hold the prefix (a binary search, then the files up to the successor), and
/// of those only the ones whose prefix filter (`SstProperties.prefixFilter`) may
/// hold it. The filter is asked only when the prefix is at least as long as the
/// length the file's filter was built at for the table, with the prefix's first
/// that-many bytes; a file built without a filter, or for another table, is read.
/// Memtables are always read.
enum PrefixScan {
    /// The least key above every key that starts with `prefix`: the prefix with its
    /// trailing 0xFF bytes dropped and the last byte left incremented. Nil when there
    /// is none (an empty prefix or one of 0xFF bytes only): the scan runs to the
    /// table's end, and every key from the prefix on starts with it.
    static func successor(_ prefix: [UInt8]) -> [UInt8]? {
        var s = prefix
        while let last = s.last {
            if last < 0xFF {
                s[s.count - 1] = last + 1
                return s
            }
            s.removeLast()
        }
        return nil
    }

    /// Files skipped by one selection, by reason.
    struct Skipped {
        var byFilter = 0
        var byRange = 0
    }

    /// `runs` with only the files that may hold a key of `table` in `[prefix, end)`
    /// that starts with `prefix` (runs left empty are dropped, the rest keep their
    /// order). Loads the meta of each file the key range keeps (from the meta cache
    /// when there), as the scan would on reaching it.
    /// Throws as `SstReader.meta` (corruption, missing object).
    static func select(_ runs: [[SstInfo]], reader: SstReader, table: UInt32, prefix: [UInt8], end: [UInt8]?) async throws
        -> (runs: [[SstInfo]], skipped: Skipped) {
        var out: [[SstInfo]] = []
        var skipped = Skipped()
        for run in runs {
            var kept: [SstInfo] = []
            // The first file whose largest key is at or after the prefix: files of a run
            // are sorted and do not overlap.
            var lo = 0, hi = run.count
            while lo < hi {
                let mid = (lo + hi) >> 1
                if endsBefore(run[mid], table: table, prefix: prefix) { lo = mid + 1 } else { hi = mid }
            }
            skipped.byRange += lo
            var i = lo
            while i < run.count, startsBefore(run[i], table: table, end: end) {
                let f = run[i]
                i += 1
                if !prefix.isEmpty {
                    let meta = try await reader.meta(f)
                    let may = prefix.withUnsafeBytes { meta.properties.mayContain(table: table, prefix: $0) }
                    if !may {
                        skipped.byFilter += 1
                        continue
                    }
                }
                kept.append(f)
            }
            skipped.byRange += run.count - i
            if !kept.isEmpty { out.append(kept) }
        }
        return (out, skipped)
    }

    /// Whether every key of `f` sorts before `(table, prefix)`.
    private static func endsBefore(_ f: SstInfo, table: UInt32, prefix: [UInt8]) -> Bool {
        f.largestKey.withUnsafeBytes { l in prefix.withUnsafeBytes { FullKey.compareUser(l, table: table, userKey: $0) < 0 } }
    }

    /// Whether some key of `f` sorts before `(table, end)` (before the table's end when `end` is nil).
    private static func startsBefore(_ f: SstInfo, table: UInt32, end: [UInt8]?) -> Bool {
        f.smallestKey.withUnsafeBytes { s in
            guard let end else { return FullKey.table(s) <= table }
            return end.withUnsafeBytes { FullKey.compareUser(s, table: table, userKey: $0) < 0 }
        }
    }
}

extension StateStore {
    /// Rows of `table` whose key starts with `prefix` at `epoch`, in key order. Any
    /// prefix length works; an empty prefix scans the whole table. SSTs whose key
    /// range cannot hold the prefix are not read, nor, when the prefix has at least
    /// the table's `StoreOptions.prefixFilterLengths` bytes, those whose prefix filter
    /// rules it out (`StoreStatistics.prefixFilterSkippedFiles`). Streams like `scan`;
    /// visibility and errors as for `get`. Runs on the caller's executor.
    nonisolated(nonsending) public func scan(_ table: TableID, prefix: [UInt8], epoch: Epoch) async throws -> ScanResult {
        // Pinned under the lock that captures the version, as `scan(_:from:to:epoch:)`.
        let (v, mems, pin, hidden, spilled) = try readView(epoch, table: table.raw)
        let end = PrefixScan.successor(prefix)
        let (runs, skipped) = try await PrefixScan.select(spilled + v.scanRuns, reader: reader, table: table.raw, prefix: prefix, end: end)
        if skipped.byFilter > 0 { prefixFilterSkips.add(UInt64(skipped.byFilter), ordering: .relaxed) }
        if skipped.byRange > 0 { prefixRangeSkips.add(UInt64(skipped.byRange), ordering: .relaxed) }
        return ScanResult(reader: reader, table: table.raw, from: prefix, to: end, epoch: epoch,
                          memtables: mems, runs: runs, pin: pin, hidden: hidden)
    }
}

extension Snapshot {
    /// Rows of `table` whose key starts with `prefix` at the snapshot's epoch, as
    /// `StateStore.scan(_:prefix:epoch:)`. The scan pins the version itself.
    nonisolated(nonsending) public func scan(_ table: TableID, prefix: [UInt8]) async throws -> ScanResult {
        let v = pin.version
        let end = PrefixScan.successor(prefix)
        let (runs, _) = try await PrefixScan.select(v.scanRuns, reader: reader, table: table.raw, prefix: prefix, end: end)
        return ScanResult(reader: reader, table: table.raw, from: prefix, to: end, epoch: epoch,
                          memtables: [], runs: runs, pin: pin.duplicate(), hidden: v.watermark(table.raw, at: epoch))
    }
}
