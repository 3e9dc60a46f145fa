/// Shape of the LSM tree and when compaction runs. Part of `StoreOptions`.
///
/// L0 holds one sub-level per commit. L1...L`maxLevel` are non-overlapping
/// sorted runs whose target sizes are derived from the bottom level (dynamic
/// level sizes): each level above is `levelSizeMultiplier` times smaller, and
/// the highest level still at least `baseLevelBytes` is the base level that L0
/// compacts into.
public struct CompactionOptions: Sendable, Equatable {
    /// Run compaction in a background task of the writing process.
    public var background: Bool = true
    /// Background workers that run whatever compaction is most urgent.
    public var maxConcurrentTasks: Int = 1
    /// One more background lane that only merges the newest L0 sub-levels
    /// (intra-L0) while an L0 -> base compaction holds the base level busy, so L0
    /// stays shallow and commits do not stall behind one long compaction.
    public var intraL0Lane: Bool = true
    /// Nice value (0...19) of the threads the background lanes run on; on Linux a
    /// thread's nice value is its own. Higher yields more CPU to writers and
    /// readers while both want it: a fill runs faster and rewrites fewer bytes,
    /// because compaction then runs mostly when the writer waits. The L0 slowdown
    /// and stop thresholds still bound the debt. 0 shares the CPU evenly.
    public var threadNice: Int = 10
    /// L0 sub-levels that trigger an L0 -> base compaction.
    public var l0CompactionTrigger: Int = 4
    /// L0 sub-levels above which an intra-L0 merge is picked while the base level is busy.
    public var intraL0Trigger: Int = 8
    /// L0 sub-levels at which commits start to slow down. A sub-level is one epoch's
    /// flush (about 1 MiB at 10,000 keys of 116 B), not a memtable of tens of MiB as
    /// in RocksDB, whose L0 file limits (20 and 36) these are not comparable to; a
    /// burst of epochs may pile up sub-levels that the background lanes merge once
    /// it ends (small ones first, see `CompactionPicker.smallRun`). Each sub-level
    /// costs a get one filter probe while it lasts. Hummock stops writes at 300.
    /// Lower thresholds stall fills for longer; the cost of higher ones is that
    /// after a restart the first get asks the filter of every L0 file its key may
    /// be in, which partitioned filters (`SstFilter.probe`: one small partition per
    /// large filter) keep cheap. Measurements: docs/benchmarks/history.md.
    public var l0SlowdownSubLevels: Int = 64
    /// L0 sub-levels at which commits wait for compaction.
    public var l0StopSubLevels: Int = 128
    /// Size ratio between adjacent levels.
    public var levelSizeMultiplier: Int = 10
    /// Minimum target size of the base level.
    public var baseLevelBytes: Int = 64 << 20
    /// Deepest level.
    public var maxLevel: Int = 6
    /// Compression of compaction outputs per level (index 0 = L1); the last entry
    /// applies to every deeper level.
    public var levelCompression: [Compression] = [.lz4, .lz4, .lz4, .lz4, .zstd]
    /// Output SSTs are cut at this size (on user-key boundaries).
    public var targetFileSize: Int = 32 << 20

    /// Commits paused this long (or this long since open) before the background
    /// worker moves what is left in L0 to the base level. Once commits pause for a
    /// second, L0 is merged into one sub-level and held there until then: moving it
    /// down rewrites the overlapping base files (all of them for random keys), which
    /// right after a restart or a burst of writes competes with the reads that
    /// follow, while one L0 sub-level costs reads little. `compactUntilQuiescent`
    /// does not wait.
    public var settleSeconds: Double = 60

    /// An unreferenced SST is deleted only after this many seconds: readers of an
    /// older version and uploads not yet committed finish well within it.
    public var gcGraceSeconds: Double = 60
    /// How often the background worker runs object GC.
    public var gcIntervalSeconds: Double = 5
    /// How often a standalone compactor renews its session lease (`floe compact`).
    /// A GC whose grace is shorter than this may end a live compactor's session:
    /// that costs the compactor its running task, never data.
    public var compactorLeaseRenewSeconds: Double = 5
    /// GC keeps the SSTs a read-only follower's lease names while the lease is
    /// younger than this (`StateStore.openReadOnly`, `ReaderLease`). A follower
    /// renews it every third of this, so only a follower paused longer loses it.
    public var readerLeaseSeconds: Double = 30

    public init() {}

    func compression(forLevel level: Int) -> Compression {
        guard !levelCompression.isEmpty else { return .lz4 }
        let i = max(0, level - 1)
        return levelCompression[min(i, levelCompression.count - 1)]
    }
}
