import Logging
import Synchronization

extension StateStore {
    /// Whether another writer has fenced this one.
    public var isFenced: Bool { state.withLock { $0.fenced != nil } }

    var currentVersion: Version { state.withLock { $0.version } }

    /// Counters for tools and benchmarks.
    public var statistics: StoreStatistics {
        let (v, s) = state.withLock { ($0.version, $0) }
        let b = reader.blockCache.stats, m = reader.metadata.metas.stats
        let c = v.stats
        var out = StoreStatistics(
            committedEpoch: v.committedEpoch, manifestSequence: v.sequence,
            l0SubLevels: v.l0.count, l0Bytes: v.l0.reduce(0) { $0 + CompactionPicker.size($1) },
            levelFileCounts: v.levels.map(\.count), levelBytes: v.levels.map { CompactionPicker.size($0) },
            sstCount: v.allSsts.count, sstBytes: v.allSsts.reduce(0) { $0 + $1.fileSize },
            sstRawBytes: v.allSsts.reduce(0) { $0 + $1.rawBytes },
            memtableBytes: s.memoryUsed,
            blockCacheHits: b.hits, blockCacheMisses: b.misses, blockCacheEvictions: b.evictions, blockCacheBytes: b.usageBytes,
            metaCacheHits: m.hits, metaCacheMisses: m.misses,
            ingestedBytes: c.ingestedBytes, flushWrittenBytes: c.flushWrittenBytes,
            compactionReadBytes: c.compactionReadBytes, compactionWrittenBytes: c.compactionWrittenBytes,
            compactions: c.compactions, stallMicros: s.stallMicros, worstStallMicros: s.worstStallMicros,
            gcDeletedObjects: s.gcDeletedObjects, gcDeletedBytes: s.gcDeletedBytes, spills: s.spills,
            prefixFilterSkippedFiles: prefixFilterSkips.load(ordering: .relaxed),
            prefixRangeSkippedFiles: prefixRangeSkips.load(ordering: .relaxed),
            compactionError: s.compactionError?.description)
        if let disk = (MeteredObjectStore.unwrap(objectStore) as? DiskCachedObjectStore)?.statistics {
            out.diskCacheHits = disk.hits
            out.diskCacheMisses = disk.misses
            out.diskCacheEvictions = disk.evictions
            out.diskCacheCorruptDropped = disk.corruptDropped
            out.diskCacheBytes = disk.bytes
        }
        return out
    }
}

/// A point-in-time summary of a store's shape, I/O and caches.
public struct StoreStatistics: Sendable, Equatable {
    public var committedEpoch: Epoch
    public var manifestSequence: UInt64
    public var l0SubLevels: Int
    public var l0Bytes: UInt64
    /// Files and bytes of L1, L2, ...
    public var levelFileCounts: [Int]
    public var levelBytes: [UInt64]
    public var sstCount: Int
    public var sstBytes: UInt64
    /// Uncompressed bytes of every stored version: encoded key (user key + 12) + value + 1.
    public var sstRawBytes: UInt64
    public var memtableBytes: Int
    public var blockCacheHits: UInt64
    public var blockCacheMisses: UInt64
    public var blockCacheEvictions: UInt64
    public var blockCacheBytes: Int
    public var metaCacheHits: UInt64
    public var metaCacheMisses: UInt64
    /// Uncompressed bytes committed by writers since the store was created.
    public var ingestedBytes: UInt64
    public var flushWrittenBytes: UInt64
    public var compactionReadBytes: UInt64
    public var compactionWrittenBytes: UInt64
    public var compactions: UInt64
    /// Commit time spent in write stalls in this process, total and worst single commit.
    public var stallMicros: UInt64
    public var worstStallMicros: UInt64
    public var gcDeletedObjects: UInt64
    public var gcDeletedBytes: UInt64
    /// Memtables of unsealed epochs spilled to SSTs by this handle (`waitForWriteBudget`).
    public var spills: UInt64
    /// SSTs that prefix scans of this handle did not read because their prefix
    /// filter ruled the prefix out, and because their key range cannot hold it.
    public var prefixFilterSkippedFiles: UInt64
    public var prefixRangeSkippedFiles: UInt64
    /// The last background compaction error, if the last attempt failed.
    public var compactionError: String?
    /// The local disk cache's counters when the store was opened over a
    /// `DiskCachedObjectStore` (`DiskCacheStatistics`); zero otherwise.
    public var diskCacheHits: UInt64 = 0
    public var diskCacheMisses: UInt64 = 0
    public var diskCacheEvictions: UInt64 = 0
    public var diskCacheCorruptDropped: UInt64 = 0
    public var diskCacheBytes: Int = 0

    /// (flush + compaction bytes written) / bytes ingested.
    public var writeAmplification: Double {
        ingestedBytes == 0 ? 0 : Double(flushWrittenBytes + compactionWrittenBytes) / Double(ingestedBytes)
    }
}
