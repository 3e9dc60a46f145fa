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

/// Reads SSTs through the meta cache (index + filter) and the block cache.
/// Stateless apart from the caches, so it is shared by every reader.
struct SstReader: Sendable {
    let store: any ObjectStore
    let blockCache: ShardedLRUCache<BlockKey, Block>
    let metaCache: ShardedLRUCache<UInt64, SstMeta>
    /// Filters loaded alone (cold L0 files a get only had to rule out).
    let filterCache: ShardedLRUCache<UInt64, SstFilter>
    /// Loads whole filters of files that cold gets read one partition of.
    let filterWarmer = FilterWarmer()
    /// Bounds the level-file metas versions keep loaded (`RunTable`).
    let pinBudget: MetaPinBudget
    /// The largest read-ahead window of a scan (`StoreOptions.scanReadAheadBytes`).
    let scanReadAheadBytes: Int

    init(store: any ObjectStore, blockCache: ShardedLRUCache<BlockKey, Block>, metaCache: ShardedLRUCache<UInt64, SstMeta>,
         filterCache: ShardedLRUCache<UInt64, SstFilter> = ShardedLRUCache(capacityBytes: 0),
         pinBudget: MetaPinBudget = MetaPinBudget(limit: 0), scanReadAheadBytes: Int = 256 << 10) {
        self.store = store
        self.scanReadAheadBytes = scanReadAheadBytes
        self.blockCache = blockCache
        self.metaCache = metaCache
        self.filterCache = filterCache
        self.pinBudget = pinBudget
    }

    /// A meta cache of `capacityBytes`, in one shard. Its entries are few and large
    /// (about 1.7 MiB of filter and index for a 64 MiB SST), and a shard holds at
    /// most capacity / shardCount: with 16 shards, three SSTs whose ids hash to one
    /// shard would evict each other on every read, reloading their metas, while
    /// the cache as a whole had room for all of them.
    static func metaCache<Value>(capacityBytes: Int) -> ShardedLRUCache<UInt64, Value> {
        ShardedLRUCache(capacityBytes: capacityBytes, shardCount: 1)
    }

    /// Loads and parses the footer, filter, index and properties of `info` (two ranged
    /// reads). Given the file's filter loaded alone (with its footer), one read of the
    /// index and properties: a cold get that passed the filter does not read it twice.
    static func loadMeta(store: any ObjectStore, id: UInt64, object: String, fileSize: Int, filter: SstFilter? = nil) async throws -> SstMeta {
        if let filter, let footer = filter.footer {
            let tail = try await store.get(object, range: Int(footer.indexOffset)..<(fileSize - SstFooter.size))
            return try SstMeta(id: id, object: object, footer: footer, tail: tail, fileSize: fileSize, filter: filter)
        }
        let footer = try await SstFooter.load(store: store, object: object, fileSize: fileSize)
        let tail = try await store.get(object, range: Int(footer.filterOffset)..<(fileSize - SstFooter.size))
        return try SstMeta(id: id, object: object, footer: footer, tail: tail, fileSize: fileSize)
    }

    /// The meta of `info`, from the cache or loaded. Concurrent cold loads of one
    /// file are single-flight: one reads the object, the others wait for its meta.
    func meta(_ info: SstInfo) async throws -> SstMeta {
        try await metaCache.getOrLoad(info.id, charge: { $0.charge }) {
            let known = filterCache.get(info.id)
            let m = try await SstReader.loadMeta(store: store, id: info.id, object: info.path, fileSize: Int(info.fileSize),
                                                 filter: known)
            // The meta holds the same filter now: charge it once, not in both caches.
            if known != nil { filterCache.remove(info.id) }
            return m
        }
    }

    /// Whether `info` may hold a key with `hash`: from its cached filter or meta,
    /// else from the least of its filter the file allows (`SstFilter.probe`). A
    /// whole filter read is cached; a file answered from one partition is queued
    /// on `filterWarmer`, which the caller starts once its get is done, and its
    /// footer is returned for `metaSkippingFilter`.
    func mayContain(_ info: SstInfo, hash: UInt64) async throws -> (may: Bool, partitionFooter: SstFooter?) {
        if let f = filterCache.get(info.id) { return (f.mayContain(hash), nil) }
        if let m = metaCache.get(info.id) { return (m.filter?.mayContain(hash) ?? true, nil) }
        switch try await SstFilter.probe(store: store, id: info.id, object: info.path, fileSize: Int(info.fileSize), hash: hash) {
        case let .whole(f):
            filterCache.insert(info.id, f, charge: f.charge)
            return (f.mayContain(hash), nil)
        case let .answer(may, footer):
            filterWarmer.request(info)
            return (may, footer)
        }
    }

    /// The meta of `info` without its filter, for a file a partition of whose
    /// filter just passed the key: one read of the index and properties instead
    /// of those and the whole filter (the larger part of a big file's tail). The
    /// meta is cached with `filterPending`; `filterWarmer` (already asked for this
    /// file by `mayContain`) swaps in the full one.
    func metaSkippingFilter(_ info: SstInfo, footer: SstFooter) async throws -> SstMeta {
        if let m = metaCache.get(info.id) { return m }
        if filterCache.get(info.id) != nil { return try await meta(info) }
        let fileSize = Int(info.fileSize)
        let tail = try await store.get(info.path, range: Int(footer.indexOffset)..<(fileSize - SstFooter.size))
        let m = try SstMeta(id: info.id, object: info.path, footer: footer, tail: tail, fileSize: fileSize,
                            filter: SstFilter(id: info.id, filter: nil, footer: footer), filterPending: true)
        metaCache.insert(info.id, m, charge: m.charge)
        // The warmer may have put the whole filter in the filter cache while this read
        // the index (it found no meta to complete then): complete it here.
        if let f = filterCache.get(info.id) { return completeMeta(info.id, with: f) ?? m }
        return m
    }

    /// Puts a whole filter loaded alone where gets will find it: into the cached meta
    /// of the file if that meta was built without it, else into the filter cache.
    /// Both this and `metaSkippingFilter` insert first and then look at the other
    /// cache, so however a warmer load and a cold get interleave, the meta ends up
    /// with its filter: a meta left pending beside a cached filter would skip the
    /// bloom check on every later get of that file.
    func adoptFilter(_ info: SstInfo, _ f: SstFilter) {
        if completeMeta(info.id, with: f) != nil { return }
        if let m = metaCache.get(info.id), !m.filterPending { return }
        filterCache.insert(info.id, f, charge: f.charge)
        _ = completeMeta(info.id, with: f)
    }

    /// Swaps in the meta with `f` for a cached meta of `id` built without its filter;
    /// nil when there is none such.
    func completeMeta(_ id: UInt64, with f: SstFilter) -> SstMeta? {
        guard let m = metaCache.get(id), m.filterPending else { return nil }
        let full = SstMeta(m, filter: f.filter)
        metaCache.insert(id, full, charge: full.charge)
        filterCache.remove(id)
        return full
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
    @inline(__always)
    func getCached(_ m: SstMeta, table: UInt32, userKey: UnsafeRawBufferPointer, hash: UInt64, epoch: Epoch) -> Lookup? {
        // Self-healing: a meta still pending beside its cached filter is completed here.
        if m.filterPending, let f = filterCache.get(m.id), let full = completeMeta(m.id, with: f) {
            return lookupCached(full, table: table, userKey: userKey, hash: hash, epoch: epoch)
        }
        return lookupCached(m, table: table, userKey: userKey, hash: hash, epoch: epoch)
    }

    /// `getCached` once the meta is settled. Borrows the meta and its filter: a copy
    /// would retain the meta or the filter's bits, lines every reader thread shares.
    @inline(__always)
    private func lookupCached(_ m: SstMeta, table: UInt32, userKey: UnsafeRawBufferPointer, hash: UInt64, epoch: Epoch) -> Lookup? {
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
        metaCache.remove(id)
        filterCache.remove(id)
        blockCache.removeAll { $0.sst == id }
    }
}
