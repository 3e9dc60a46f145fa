import CoreMetrics
import Logging

/// Tuning and behaviour of a store. Every field has a safe default.
///
/// Equality compares the tuning fields only: `logger` and `metricsFactory` are
/// where the store reports, not how it behaves, and are left out.
public struct StoreOptions: Sendable, Equatable {
    /// How SSTs are built (block size, compression, bloom bits, file size).
    public var sst = SstWriterOptions()
    /// LSM shape, compaction triggers and write stalls.
    public var compaction = CompactionOptions()
    /// Bytes of decoded data blocks the block cache may hold.
    public var blockCacheBytes: Int = 256 << 20
    /// Bytes of SST index and filter data the meta cache may hold. The current
    /// version keeps the metas of level files that gets used loaded beside it (so
    /// gets skip the cache's lock) up to as many bytes again, and the metas of L0
    /// files as long as they are in L0.
    public var metaCacheBytes: Int = 64 << 20
    /// The largest read a long scan makes. A scan that misses the block cache three
    /// blocks in a row reads ahead in one ranged read per window, doubling from 16 KiB
    /// up to this, and fetches the next window while it consumes the current one.
    /// A remote store (tens of milliseconds per request) wants a few MiB here (4 MiB
    /// keeps an 80 MB/s S3 connection busy); at least 16 KiB.
    public var scanReadAheadBytes: Int = 256 << 10
    /// Memory all uncommitted epochs may hold. Once it is spent, writes throw
    /// `FloeError.memoryBudgetExceeded` (the write that crosses it is accepted, so
    /// usage may overshoot by one write or batch); `waitForWriteBudget()` waits for
    /// in-flight syncs and commits to free memory.
    public var memtableBudgetBytes: Int = 512 << 20
    /// When the budget is spent and no sync or commit is running to free it,
    /// `waitForWriteBudget()` spills the unsealed epochs' memtables to SSTs (uploaded,
    /// read by this writer only, committed with their epoch), so one epoch may hold
    /// more than the budget. Off: it throws `memoryBudgetExceeded` instead.
    public var spillOpenEpochs = true
    /// Key ranges a sync sorts and builds at once (child tasks) for an epoch of at
    /// least 16 MiB of memtable (one range per 8 MiB, up to this many), each into SST
    /// files of its own. The commit of a large epoch then waits for the slowest range
    /// instead of the whole epoch. 1 builds every epoch on one thread.
    public var syncParallelism: Int = 2
    /// The least memtable bytes a sync gives one of its parallel key ranges (8 MiB;
    /// tests lower it to split small epochs).
    package var syncRangeMinBytes: Int = 8 << 20
    /// A full manifest checkpoint is written every this many deltas, bounding open time.
    public var manifestCheckpointInterval: UInt64 = 64
    /// Epochs readable below the committed epoch: reads at `e >= committed - retention`
    /// are served (plus any epoch a live snapshot pins). 0 keeps only the latest.
    public var retentionEpochs: UInt64 = 0
    /// Create the store when the path or object store holds nothing.
    public var createIfMissing: Bool = true
    /// Failpoints armed for this store only (tests), consulted before those of
    /// `FLOE_FAILPOINTS`. See `Failpoints`.
    package var failpoints: [Failpoint: FailpointAction] = [:]
    /// Where the store logs (swift-log). The default drops everything; the library
    /// never bootstraps `LoggingSystem` and never prints. Levels follow swift-log's
    /// guidance for libraries: open and recovery, compaction tasks, GC passes, write
    /// stalls, spills and lost manifest races at `debug`; per-object GC deletions and
    /// manifest checkpoints at `trace`; a failing background compaction at `info`
    /// (nothing else reports it until a commit stalls); `warning` only once per store
    /// for being fenced and once per object for corruption (object and offset).
    /// Every record carries `floe.session` (the writer's manifest session).
    public var logger = Logger.floeDisabled
    /// Where the store's `floe_*` metrics go (swift-metrics; names and how they are
    /// aggregated: `StoreMetrics`). nil: the process's `MetricsSystem.factory` as of
    /// `open` (a no-op one unless the application bootstrapped it).
    public var metricsFactory: (any MetricsFactory)?

    /// Per table, the prefix length of the SSTs' prefix bloom filter: the same as
    /// `sst.prefixFilterLengths`, which see.
    public var prefixFilterLengths: [TableID: Int] {
        get { sst.prefixFilterLengths }
        set { sst.prefixFilterLengths = newValue }
    }

    public init() {}

    public static func == (a: StoreOptions, b: StoreOptions) -> Bool {
        a.sst == b.sst && a.compaction == b.compaction && a.blockCacheBytes == b.blockCacheBytes
            && a.metaCacheBytes == b.metaCacheBytes && a.scanReadAheadBytes == b.scanReadAheadBytes && a.memtableBudgetBytes == b.memtableBudgetBytes
            && a.spillOpenEpochs == b.spillOpenEpochs && a.syncParallelism == b.syncParallelism && a.syncRangeMinBytes == b.syncRangeMinBytes && a.manifestCheckpointInterval == b.manifestCheckpointInterval
            && a.retentionEpochs == b.retentionEpochs && a.createIfMissing == b.createIfMissing && a.failpoints == b.failpoints
    }
}
