import Logging
/// Checks of `StoreOptions` made by every `open`: each bad option is an
/// `invalidArgument` naming it, before anything is read or written.
extension StateStore {
    static func validate(_ o: StoreOptions) throws {
        guard o.sst.blockSize >= 256, o.sst.blockSize <= 64 << 20 else { throw FloeError.invalidArgument("sst.blockSize \(o.sst.blockSize) outside 256 B...64 MiB") }
        guard o.sst.restartInterval >= 1, o.sst.restartInterval <= 1024 else { throw FloeError.invalidArgument("sst.restartInterval \(o.sst.restartInterval) outside 1...1024") }
        guard o.sst.bloomBitsPerKey >= 0, o.sst.bloomBitsPerKey <= 64 else { throw FloeError.invalidArgument("sst.bloomBitsPerKey \(o.sst.bloomBitsPerKey) outside 0...64") }
        for (t, n) in o.sst.prefixFilterLengths where !(1...1024).contains(n) {
            throw FloeError.invalidArgument("prefix filter length \(n) of table \(t) outside 1...1024")
        }
        guard o.sst.targetFileSize >= 4096 else { throw FloeError.invalidArgument("sst.targetFileSize \(o.sst.targetFileSize) below 4096") }
        guard o.blockCacheBytes >= 0, o.metaCacheBytes >= 0 else { throw FloeError.invalidArgument("cache sizes must not be negative") }
        guard o.scanReadAheadBytes >= 16 << 10 else { throw FloeError.invalidArgument("scan read-ahead must be at least 16 KiB, not \(o.scanReadAheadBytes) bytes") }
        guard o.memtableBudgetBytes > 0 else { throw FloeError.invalidArgument("memtableBudgetBytes must be positive") }
        guard (1...64).contains(o.syncParallelism) else { throw FloeError.invalidArgument("syncParallelism \(o.syncParallelism) outside 1...64") }
        guard o.manifestCheckpointInterval >= 1 else { throw FloeError.invalidArgument("manifestCheckpointInterval must be at least 1") }
        let c = o.compaction
        guard c.maxLevel >= 1, c.maxLevel <= 32 else { throw FloeError.invalidArgument("compaction.maxLevel \(c.maxLevel) outside 1...32") }
        guard c.levelSizeMultiplier >= 2 else { throw FloeError.invalidArgument("compaction.levelSizeMultiplier must be at least 2") }
        guard c.l0CompactionTrigger >= 1, c.l0SlowdownSubLevels >= c.l0CompactionTrigger, c.l0StopSubLevels >= c.l0SlowdownSubLevels else {
            throw FloeError.invalidArgument("compaction needs 1 <= l0CompactionTrigger <= l0SlowdownSubLevels <= l0StopSubLevels")
        }
        guard c.targetFileSize >= 4096, c.baseLevelBytes >= 4096 else { throw FloeError.invalidArgument("compaction sizes must be at least 4096 bytes") }
        guard c.maxConcurrentTasks >= 1 else { throw FloeError.invalidArgument("compaction.maxConcurrentTasks must be at least 1") }
        guard c.gcGraceSeconds >= 0, c.gcIntervalSeconds > 0 else { throw FloeError.invalidArgument("GC grace must be >= 0 and interval > 0") }
        guard (0...19).contains(c.threadNice) else { throw FloeError.invalidArgument("compaction.threadNice must be in 0...19") }
        guard c.settleSeconds >= 0, c.settleSeconds.isFinite else { throw FloeError.invalidArgument("settleSeconds must be finite and >= 0") }
    }
}
