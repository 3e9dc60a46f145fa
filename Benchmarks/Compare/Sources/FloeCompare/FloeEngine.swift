import Floe

/// Floe through its public API, used the way `floe bench` uses it.
final class FloeEngine: BenchEngine {
    let store: StateStore
    let config: EngineConfig
    let table = TableID(1)

    init(store: StateStore, config: EngineConfig) {
        self.store = store
        self.config = config
    }

    static func options(_ config: EngineConfig) -> StoreOptions {
        var o = StoreOptions()
        o.blockCacheBytes = config.cacheBytes
        o.sst.blockSize = config.blockSize
        o.sst.bloomBitsPerKey = config.bloomBitsPerKey
        o.sst.compression = .lz4
        o.compaction.levelCompression = [.lz4]
        return o
    }

    static func open(dir: String, config: EngineConfig) async throws -> FloeEngine {
        FloeEngine(store: try await StateStore.open(path: dir, options: options(config)), config: config)
    }

    func apply(_ plan: WritePlan, keys: BenchKeys, values: BenchValues) async throws {
        let store = self.store, table = self.table
        // Pipelined like `floe bench`: epoch e uploads while e + 1 is written; syncs and commits stay in order.
        var pipe = try CheckpointPipeline(store: store, depth: config.pipeline)
        var i = 0
        while i < plan.ops.count {
            let epoch = pipe.epoch
            let end = min(plan.ops.count, i + plan.batchKeys)
            while i < end {
                let op = plan.ops[i]
                if op.isDelete {
                    try store.delete(table, key: keys.key(Int(op.key)), epoch: epoch)
                } else {
                    try store.put(table, key: keys.key(Int(op.key)), value: values.value(Int(op.value)), epoch: epoch)
                }
                i += 1
            }
            try await pipe.endEpoch()
        }
        _ = try await pipe.drain()
    }

    func get(_ key: [UInt8]) async throws -> [UInt8]? {
        try await store.get(table, key: key, epoch: store.committedEpoch)
    }

    func scanAll() async throws -> Int {
        var n = 0, bytes = 0
        // Borrowed rows, as the peers' iterators hand out pointers into their blocks.
        try await store.scan(table, from: nil, to: nil, epoch: store.committedEpoch).forEachRow { k, v in
            n += 1
            bytes &+= k.count &+ v.count
            return true
        }
        guard bytes > 0 || n == 0 else { throw EngineError("scan returned empty rows") }
        return n
    }

    func readRandom(keys: BenchKeys, count: Int, threads: Int, seed: UInt64, missing: Bool) async throws -> Int {
        let store = self.store, table = self.table, epoch = store.committedEpoch
        // One child task per thread of the peers; the global executor has one thread per core.
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for t in 0..<threads {
                let n = count / threads + (t == 0 ? count % threads : 0)
                group.addTask {
                    var rng = SplitMix64(seed: seed &+ UInt64(t) &* 0x9E37_79B9)
                    var found = 0
                    for _ in 0..<n {
                        let i = Int(rng.next() % UInt64(keys.count))
                        let k = missing ? keys.missingKey(i) : keys.key(i)
                        if try await store.get(table, key: k, epoch: epoch) != nil { found += 1 }
                    }
                    return found
                }
            }
            return try await group.reduce(0, +)
        }
    }

    func seekRandom(keys: BenchKeys, count: Int, length: Int, seed: UInt64) async throws -> Int {
        var rng = SplitMix64(seed: seed)
        let epoch = store.committedEpoch
        var rows = 0
        for _ in 0..<count {
            let from = keys.key(Int(rng.next() % UInt64(keys.count)))
            var left = length
            try await store.scan(table, from: from, to: nil, epoch: epoch).forEachRow { _, v in
                rows &+= v.isEmpty ? 0 : 1
                left -= 1
                return left > 0
            }
        }
        return rows
    }

    func quiesce() async throws {
        try await store.compactUntilQuiescent()
        // Superseded SSTs wait out a grace period for readers; nothing reads now, so drop them,
        // as RocksDB and LevelDB delete obsolete files once a compaction ends.
        try await store.collectGarbage(graceSeconds: 0)
    }

    func close() async throws { try await store.close() }

    func notes() -> [String: Double] {
        let s = store.statistics
        return ["floe_internal_write_amp": s.writeAmplification,
                "floe_sst_bytes": Double(s.sstBytes),
                "floe_l0_sublevels": Double(s.l0SubLevels),
                // Cumulative: recorded per read phase as growth (EngineRun).
                "floe_compaction_written_bytes_total": Double(s.compactionWrittenBytes),
                "floe_compactions_total": Double(s.compactions),
                "floe_block_cache_misses_total": Double(s.blockCacheMisses),
                "floe_l0_sublevels_now": Double(s.l0SubLevels),
                "floe_sst_count_now": Double(s.sstCount)]
    }
}
