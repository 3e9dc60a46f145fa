/// One unit of compaction work as plain, serialisable data: the same task runs
/// in a background task, in a separate `floe compact` process, or step by step
/// in tests.
///
/// Invariant: `inputs` lists sorted runs newest first (L0 sub-levels in version
/// order, then the target level's overlapping files), so equal keys merge
/// newest-version-first.
public struct CompactionTask: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable {
        /// Merge L0 sub-levels and the overlapping base-level files into the base level.
        case l0ToBase
        /// Merge several L0 sub-levels into one sub-level.
        case intraL0
        /// Merge files of level N with the overlapping files of level N+1.
        case levelToLevel
        /// Re-home files to the next level without rewriting them (no overlap there).
        case trivialMove
        /// Delete files whose every key a table watermark hides at the task's
        /// watermark epoch, without reading them.
        case dropHidden
    }

    public struct Input: Sendable, Hashable, Codable {
        /// 0 for an L0 sub-level, else the level number.
        public var level: Int
        public var ssts: [SstInfo]
    }

    public var kind: Kind
    public var inputs: [Input]
    /// Level the outputs go to (0 for intra-L0).
    public var targetLevel: Int
    /// Versions of a key may be dropped when a newer version is at or below this epoch.
    public var watermark: Epoch
    /// True when no level below `targetLevel` overlaps the inputs: tombstones at or
    /// below the watermark may then be dropped.
    public var bottommost: Bool
    public var compression: Compression
    public var targetFileSize: Int
    /// Manifest sequence of the version the task was picked from.
    public var baseSequence: UInt64
    /// Picker score that made this task urgent, for stats and logs.
    public var score: Double
    /// The table watermarks in effect at `watermark`: every version of a key they
    /// hide is dropped (no retained epoch can read it).
    public var tableWatermarks: [TableWatermark] = []

    public var inputIDs: [UInt64] { inputs.flatMap { $0.ssts.map(\.id) } }
    public var inputBytes: UInt64 { inputs.reduce(0) { $0 + $1.ssts.reduce(0) { $0 + $1.fileSize } } }
}

/// What a compaction produced, ready to commit.
public struct CompactionResult: Sendable, Hashable, Codable {
    public var task: CompactionTask
    public var outputs: [SstInfo]
    public var bytesRead: UInt64
    public var bytesWritten: UInt64
    public var entriesIn: UInt64
    public var entriesOut: UInt64
}
