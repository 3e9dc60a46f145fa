/// A read-only copy of one manifest version for tools: its identity, metadata
/// and per-run statistics.
package struct VersionSummary: Sendable {
    /// The manifest sequence of the version.
    package var sequence: UInt64
    /// The writer session (manifest sequence of its open record) that owns the store.
    package var writerID: UInt64
    /// The newest committed epoch.
    package var committedEpoch: Epoch
    /// Oldest epoch readers may still ask for.
    package var safeEpoch: Epoch
    /// Caller metadata as of the committed epoch.
    package var metadata: [String: [UInt8]]
    /// The table watermark history, sorted by (table, epoch).
    package var watermarks: [TableWatermark]
    /// Named checkpoints, by name.
    package var checkpoints: [CheckpointInfo]
    /// L0 sub-levels, newest first.
    package var l0: [SstRunSummary]
    /// Levels L1 and up; `levels[0]` is L1.
    package var levels: [SstRunSummary]
    /// Cumulative ingest, flush, compaction and stall counters since the store was created.
    package var counters: LsmCounters

    init(_ v: Version) {
        sequence = v.sequence
        writerID = v.writerID
        committedEpoch = v.committedEpoch
        safeEpoch = v.safeEpoch
        metadata = v.metadata
        watermarks = v.watermarks
        checkpoints = v.namedCheckpoints.map(CheckpointInfo.init)
        l0 = v.l0.enumerated().map { SstRunSummary(name: SstRunSummary.name(l0SubLevel: $0.offset), ssts: $0.element) }
        levels = v.levels.enumerated().map { SstRunSummary(name: SstRunSummary.name(level: $0.offset + 1), ssts: $0.element) }
        counters = v.stats
    }

    /// Every run, L0 sub-levels first.
    package var runs: [SstRunSummary] { l0 + levels }

    /// Totals over every L0 sub-level, named `L0`.
    package var l0Total: SstRunSummary { SstRunSummary(name: "L0", ssts: l0.flatMap(\.ssts)) }

    /// Totals over every SST of the version, named `total`.
    package var total: SstRunSummary { SstRunSummary(name: "total", ssts: runs.flatMap(\.ssts)) }
}
