/// The comparisons of `floe eotest`, on plain values so that tests can feed them
/// hand-made inputs: rows of a sink against the reference's (as multisets), the
/// epoch files of a file sink against the committed epochs, and a view's dump
/// against the reference's dump.
enum EotestCheck {
    /// How a sink's rows of one view differ from the reference's, as multisets.
    struct RowDiff: Equatable {
        /// Rows the reference holds more often than the sink (each missing copy once).
        var lost: [[String]] = []
        /// Rows the sink holds more often than the reference (each extra copy once):
        /// delivered twice, or never in the reference at all.
        var duplicated: [[String]] = []
        var isEmpty: Bool { lost.isEmpty && duplicated.isEmpty }
    }

    /// `actual` against `reference`; the order of the rows does not matter.
    static func rows(reference: [[String]], actual: [[String]]) -> RowDiff {
        var counts: [[String]: Int] = [:]
        for r in reference { counts[r, default: 0] += 1 }
        for r in actual { counts[r, default: 0] -= 1 }
        var diff = RowDiff()
        for (row, n) in counts.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            if n > 0 { diff.lost += repeatElement(row, count: n) }
            if n < 0 { diff.duplicated += repeatElement(row, count: -n) }
        }
        return diff
    }

    /// What a file sink's epoch files of one view look like against the committed epochs.
    struct EpochReport: Equatable {
        /// Epochs in 1...committed with no file.
        var missing: [UInt64] = []
        /// Epochs with a file beyond the committed epoch (delivered without a commit).
        var beyondCommitted: [UInt64] = []
        /// Epochs listed more than once, or whose file was replaced by a later run
        /// (delivered again: seen with another identity than before).
        var repeated: [UInt64] = []
        /// Epochs whose file was written before the previous epoch's file.
        var outOfOrder: [UInt64] = []
        var isEmpty: Bool { missing.isEmpty && beyondCommitted.isEmpty && repeated.isEmpty && outOfOrder.isEmpty }
    }

    /// One epoch file as the harness saw it: its epoch, the file's identity (inode)
    /// and its modification time in nanoseconds.
    struct EpochFile: Equatable {
        var epoch: UInt64
        var identity: UInt64
        var modifiedNanos: Int64
    }

    /// Checks the epoch files of one view, listed after the last run, against
    /// `committed`. `earlier` are the listings taken after each earlier run: a file
    /// whose identity changed since was written again, which a sink that skips the
    /// epochs it holds never does. Write order: each epoch's file must not be older
    /// than the previous epoch's (delivery is in epoch order, one file at a time).
    static func epochs(_ files: [EpochFile], earlier: [[EpochFile]] = [], committed: UInt64) -> EpochReport {
        var report = EpochReport()
        var seen: [UInt64: Int] = [:]
        for f in files { seen[f.epoch, default: 0] += 1 }
        report.missing = committed == 0 ? [] : (1...committed).filter { seen[$0] == nil }
        report.beyondCommitted = seen.keys.filter { $0 > committed }.sorted()
        var repeated = Set(seen.filter { $0.value > 1 }.map(\.key))
        let finalIdentity = Dictionary(files.map { ($0.epoch, $0.identity) }, uniquingKeysWith: { a, _ in a })
        for listing in earlier {
            for f in listing where finalIdentity[f.epoch].map({ $0 != f.identity }) ?? false { repeated.insert(f.epoch) }
        }
        report.repeated = repeated.sorted()
        let ordered = files.sorted { $0.epoch < $1.epoch }
        for (a, b) in zip(ordered, ordered.dropFirst()) where b.epoch != a.epoch && b.modifiedNanos < a.modifiedNanos {
            report.outOfOrder.append(b.epoch)
        }
        return report
    }

    /// The first line where two dumps differ, as (line number from 1, reference line,
    /// actual line; nil past the end of a dump), or nil when they are byte-equal.
    static func firstDifference(reference: String, actual: String) -> (line: Int, reference: String?, actual: String?)? {
        if reference == actual { return nil }
        let r = reference.split(separator: "\n", omittingEmptySubsequences: false)
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        for i in 0..<max(r.count, a.count) {
            let x = i < r.count ? String(r[i]) : nil, y = i < a.count ? String(a[i]) : nil
            if x != y { return (i + 1, x, y) }
        }
        return (max(r.count, a.count), nil, nil)
    }
}
