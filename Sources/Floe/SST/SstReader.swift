/// Cache key of a decoded data block.
struct BlockKey: CacheKey {
    var sst: UInt64
    var block: Int

    /// Two multiplies and the SplitMix64 finalizer instead of SipHash: this is
    /// hashed on every block-cache lookup of the point-read path.
    @inline(__always)
    var cacheHash: UInt64 {
        mixHash64(sst &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(bitPattern: Int64(block)))
    }
}

/// Reads SSTs through their metadata (`SstMetadataCache`: metas, filters, the
/// pin budget) and the block cache. Stateless apart from the caches, so it is
/// shared by every reader.
struct SstReader: Sendable {
    let store: any ObjectStore
    let blockCache: ShardedLRUCache<BlockKey, Block>
    /// The one owner of SST metadata in memory.
    let metadata: SstMetadataCache
    /// The largest read-ahead window of a scan (`StoreOptions.scanReadAheadBytes`).
    let scanReadAheadBytes: Int

    init(store: any ObjectStore, blockCache: ShardedLRUCache<BlockKey, Block>, metaCache: ShardedLRUCache<UInt64, SstMeta>,
         filterCache: ShardedLRUCache<UInt64, SstFilter> = ShardedLRUCache(capacityBytes: 0),
         pinBudget: MetaPinBudget = MetaPinBudget(limit: 0), scanReadAheadBytes: Int = 256 << 10) {
        self.store = store
        self.scanReadAheadBytes = scanReadAheadBytes
        self.blockCache = blockCache
        metadata = SstMetadataCache(store: store, metas: metaCache, filters: filterCache, pinBudget: pinBudget)
    }

    /// A meta cache of `capacityBytes`, in one shard. Its entries are few and large
    /// (about 1.7 MiB of filter and index for a 64 MiB SST), and a shard holds at
    /// most capacity / shardCount: with 16 shards, three SSTs whose ids hash to one
    /// shard would evict each other on every read, reloading their metas, while
    /// the cache as a whole had room for all of them.
    static func metaCache<Value>(capacityBytes: Int) -> ShardedLRUCache<UInt64, Value> {
        ShardedLRUCache(capacityBytes: capacityBytes, shardCount: 1)
    }

    /// The meta of `info`, from the cache or loaded (`SstMetadataCache.meta`,
    /// single-flight).
    func meta(_ info: SstInfo) async throws -> SstMeta {
        try await metadata.meta(info)
    }

    /// The meta of `info` if the meta cache holds it (no load, no miss counted).
    func cachedMeta(_ info: SstInfo) -> SstMeta? {
        metadata.metas.getIfCached(info.id)
    }

    /// Data block `i` of `meta`, from the cache or read and decoded. Concurrent cold
    /// reads of one block are single-flight: one reads it, the others wait for it.
    func block(_ meta: SstMeta, _ i: Int) async throws -> Block {
        let key = BlockKey(sst: meta.id, block: i)
        return try await blockCache.getOrLoad(key, charge: { $0.data.count + 64 + $0.restartCount * 12 }) {
            let off = meta.blockOffsets[i], size = meta.blockSizes[i]
            let raw = try await store.get(meta.object, range: off..<(off + size))
            let payload = try BlockCodec.open(raw, range: 0..<raw.count, object: meta.object, objectOffset: off)
            return try Block(payload, dataBlock: true, object: meta.object, offset: off)
        }
    }

    /// Puts the data blocks of a file this process just wrote (`SstWriter`
    /// with `retainBlocks`) in the block cache, but only if all of them fit in the
    /// free room: prefilling never evicts a block a reader loaded. Without it, a
    /// compaction that replaces warm files leaves readers with a cold cache until
    /// every block was missed once (RocksDB offers the same for flushes as
    /// `prepopulate_block_cache`). Returns the number of blocks cached.
    @discardableResult
    func prefill(_ info: SstInfo, blocks: [(offset: Int, payload: [UInt8])]) -> Int {
        guard blockCache.capacityBytes > 0, !blocks.isEmpty else { return 0 }
        let charge = blocks.reduce(0) { $0 + $1.payload.count + 64 }
        let s = blockCache.stats
        guard s.usageBytes + charge <= s.capacityBytes else { return 0 }
        var n = 0
        for (i, b) in blocks.enumerated() {
            // The payload was built here a moment ago; a block that fails validation is simply not cached.
            guard let block = try? Block(b.payload, dataBlock: true, object: info.path, offset: b.offset) else { continue }
            blockCache.insert(BlockKey(sst: info.id, block: i), block, charge: b.payload.count + 64 + block.restartCount * 12)
            n += 1
        }
        return n
    }

    /// Reads blocks `first...` of one SST in a single ranged read of at most about
    /// `maxBytes`: the sequential path of long scans, whose decoded blocks are
    /// cached for readers when `fillCache`.
    func readAhead(_ meta: SstMeta, from first: Int, maxBytes: Int, fillCache: Bool = false) async throws -> [Block] {
        let chunk = try await readChunk(meta, from: first, maxBytes: maxBytes)
        var out: [Block] = []
        out.reserveCapacity(chunk.count)
        for i in first..<(first + chunk.count) {
            let b = try chunk.block(i)
            if fillCache { blockCache.insert(BlockKey(sst: meta.id, block: i), b, charge: b.data.count + 64 + b.restartCount * 12) }
            out.append(b)
        }
        return out
    }

    /// The stored bytes of blocks `first...` of one SST, read in a single ranged read
    /// of at most about `maxBytes` (at least one block), not yet decoded.
    func readChunk(_ meta: SstMeta, from first: Int, maxBytes: Int) async throws -> BlockChunk {
        var last = first
        var bytes = meta.blockSizes[first]
        while last + 1 < meta.blockCount && bytes + meta.blockSizes[last + 1] <= maxBytes {
            last += 1
            bytes += meta.blockSizes[last]
        }
        let start = meta.blockOffsets[first]
        let raw = try await store.get(meta.object, range: start..<(start + bytes))
        return BlockChunk(meta: meta, raw: raw, first: first, count: last - first + 1)
    }

    /// Outcome of a point read in one SST.
    enum Lookup {
        case value([UInt8])
        case tombstone
        case notFound
    }

    /// The newest version of `(table, userKey)` with epoch <= `epoch` in this SST.
    func get(_ info: SstInfo, table: UInt32, userKey: [UInt8], hash: UInt64, epoch: Epoch) async throws -> Lookup {
        try await get(try await meta(info), table: table, userKey: userKey, hash: hash, epoch: epoch)
    }

    /// The same lookup with the file's meta at hand (the block may still be read).
    func get(_ m: SstMeta, table: UInt32, userKey: [UInt8], hash: UInt64, epoch: Epoch) async throws -> Lookup {
        if let f = m.filter, !f.mayContain(hash) { return .notFound }
        guard let bi = userKey.withUnsafeBytes({ m.blockIndex(table: table, userKey: $0, epoch: epoch) }) else { return .notFound }
        let b = try await block(m, bi)
        switch userKey.withUnsafeBytes({ b.pointLookup(table: table, userKey: $0, epoch: epoch) }) {
        case let .found(kind, range):
            return kind == ValueKind.delete ? .tombstone : .value(Array(b.data[range]))
        case .absent, .pastEnd:
            return .notFound
        }
    }

    /// The same lookup with the file's meta at hand, from the block cache only and
    /// without suspending: nil when the block is not cached (the caller then takes
    /// the async path).
    /// Borrows the meta and its filter: a copy would retain the meta or the
    /// filter's bits, lines every reader thread shares.
    @inline(__always)
    func getCached(_ m: SstMeta, table: UInt32, userKey: UnsafeRawBufferPointer, hash: UInt64, epoch: Epoch) -> Lookup? {
        if !m.mayContain(hash) { return .notFound }
        guard let bi = m.blockIndex(table: table, userKey: userKey, epoch: epoch) else { return .notFound }
        guard let b = blockCache.get(BlockKey(sst: m.id, block: bi)) else { return nil }
        switch b.pointLookup(table: table, userKey: userKey, epoch: epoch) {
        case let .found(kind, range):
            return kind == ValueKind.delete ? .tombstone : .value(Array(b.data[range]))
        case .absent, .pastEnd:
            return .notFound
        }
    }

    func evict(_ id: UInt64) {
        metadata.evict(id)
        blockCache.removeAll { $0.sst == id }
    }
}
