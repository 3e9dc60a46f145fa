/// Totals over a sorted run of SSTs (an L0 sub-level or a level), or over a
/// whole version: file count, bytes, entries, key and epoch ranges.
package struct SstRunSummary: Sendable, Equatable {
    /// `L0.<i>` for L0 sub-level i (0 is the newest), `L<n>` for level n, or `total`.
    package var name: String
    /// The SSTs of the run, in run order.
    package var ssts: [SstInfo]
    /// Stored bytes of the SSTs.
    package var bytes: UInt64 = 0
    /// Versions stored, tombstones included.
    package var entries: UInt64 = 0
    /// Tombstones stored.
    package var tombstones: UInt64 = 0
    /// Uncompressed key and value bytes.
    package var rawBytes: UInt64 = 0
    /// Smallest encoded full key over the run; nil when it is empty.
    package var smallestKey: [UInt8]?
    /// Largest encoded full key over the run; nil when it is empty.
    package var largestKey: [UInt8]?
    /// Oldest epoch over the run; nil when it is empty.
    package var minEpoch: Epoch?
    /// Newest epoch over the run; nil when it is empty.
    package var maxEpoch: Epoch?

    /// Summarises `ssts` under `name`.
    package init(name: String, ssts: [SstInfo]) {
        self.name = name
        self.ssts = ssts
        for s in ssts {
            bytes += s.fileSize
            entries += s.entryCount
            tombstones += s.tombstoneCount
            rawBytes += s.rawBytes
            if smallestKey.map({ FullKey.compare(s.smallestKey, $0) < 0 }) ?? true { smallestKey = s.smallestKey }
            if largestKey.map({ FullKey.compare(s.largestKey, $0) > 0 }) ?? true { largestKey = s.largestKey }
            minEpoch = Swift.min(minEpoch ?? .max, s.minEpoch)
            maxEpoch = Swift.max(maxEpoch ?? 0, s.maxEpoch)
        }
    }

    /// Number of SSTs in the run.
    package var fileCount: Int { ssts.count }

    /// The name of L0 sub-level `index` (0 is the newest).
    package static func name(l0SubLevel index: Int) -> String { "L0.\(index)" }

    /// The name of level `level` (1 and up).
    package static func name(level: Int) -> String { "L\(level)" }
}
