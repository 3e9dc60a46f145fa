
/// The one owner of SST metadata in memory (LevelDB's table cache plays this
/// part): parsed metas (index, filter, properties), filters loaded alone, the
/// background loads of whole filters (`FilterWarmer`), and the budget of level
/// metas that versions keep pinned in their `RunTable`s.
///
/// Two calls serve the point read, which itself only walks sorted runs:
/// - `cached(_:hash:)`, synchronous and without I/O: the file's meta, or "a
///   filter in memory rules the file out", or "load";
/// - `load(_:_:budgeted:hash:asked:)`, async: asks the file's filter if the file
///   is cold, then loads the meta (or returns nil when the filter ruled the file
///   out), and pins a settled meta in the run's table.
/// Scans, compaction and tools take whole metas through `meta(_:)`.
///
/// Invariants:
/// - A meta is cached without its filter (`SstMeta.filterPending`) only for a
///   file whose filter is partitioned and was answered from one partition, and
///   only while no whole filter of that file is in `filters`: inserting such a
///   meta and handing over a whole filter (`adoptFilter`) both check the other
///   cache and write under `handOver`, so the two cannot interleave into a
///   pending meta beside its cached filter. Every pending meta has the warmer
///   asked for its filter.
/// - A pending meta is never pinned in a `RunTable` (a table slot is set once).
/// - Cold loads are single-flight per file: a meta (`metas.getOrLoad`), the
///   index-only meta (`indexFlights`), and the key-independent part of a filter
///   probe (footer, then the whole filter or the partitioned filter's header:
///   `probeFlights`). Only the one partition a key falls in is read per key.
/// - `filters` holds filters of files whose meta is not cached; a full meta load
///   takes the cached filter over and drops it from `filters`.
final class SstMetadataCache: Sendable {
    let store: any ObjectStore
    /// Parsed metas by SST id (statistics: `metaCacheHits`/`metaCacheMisses`).
    let metas: ShardedLRUCache<UInt64, SstMeta>
    /// Whole filters loaded alone (cold L0 files a get only had to rule out).
    let filters: ShardedLRUCache<UInt64, SstFilter>
    /// Bounds the level-file metas versions keep loaded (`RunTable`).
    let pinBudget: MetaPinBudget
    /// Loads whole filters of files that cold gets read one partition of.
    private let warmer = FilterWarmer()
    /// Flight tables only (capacity 0: nothing is kept), for loads whose result
    /// goes elsewhere: a filter's first probe step, an index-only meta.
    private let probeFlights = ShardedLRUCache<UInt64, SstFilter.Located>(capacityBytes: 0)
    private let indexFlights = ShardedLRUCache<UInt64, SstMeta>(capacityBytes: 0)
    /// Serializes the hand-over of a file's filter between `filters` and a pending meta.
    private let handOver = Lock(())

    init(store: any ObjectStore, metas: ShardedLRUCache<UInt64, SstMeta>,
         filters: ShardedLRUCache<UInt64, SstFilter> = ShardedLRUCache(capacityBytes: 0),
         pinBudget: MetaPinBudget = MetaPinBudget(limit: 0)) {
        self.store = store
        self.metas = metas
        self.filters = filters
        self.pinBudget = pinBudget
    }

    /// What memory says about a file, for a key of bloom hash `hash`.
    enum Cached {
        /// The file's meta (possibly with its filter pending).
        case meta(SstMeta)
        /// A filter loaded alone rules the key out of the file.
        case ruledOut
        /// Nothing in memory settles it: `load`.
        case load
    }

    /// The answer from memory for file `id`: no I/O, no allocation, no suspension.
    @inline(__always)
    func cached(_ id: UInt64, hash: UInt64) -> Cached {
        if let m = metas.get(id) { return .meta(m) }
        if let alone = filters.get(id), !alone.mayContain(hash) { return .ruledOut }
        return .load
    }

    /// Pins `meta` (file `file` of `run`) in the run's table, charged to the pin
    /// budget if `budgeted` (level runs; L0 is bounded by the write stall). A meta
    /// with its filter pending is not pinned: it would stay without it.
    @inline(__always)
    func pin(_ meta: SstMeta, in run: RunTable, file: Int, budgeted: Bool) {
        if !meta.filterPending { run.fill(file, meta, budget: budgeted ? pinBudget : nil) }
    }

    /// Whether file `file` of `run` has nothing in memory: no pinned or cached meta, no filter.
    func isCold(_ run: RunTable, _ file: Int) -> Bool {
        let id = run.id(file)
        return run.withMeta(file, { _ in true }) == nil && metas.get(id) == nil && filters.get(id) == nil
    }

    /// What a file's filter said without its meta: may it hold the key, and the
    /// footer when the answer came from one partition (the meta then loads without
    /// the filter).
    typealias FilterAnswer = (may: Bool, partitionFooter: SstFooter?)

    /// Loads what a point read of file `file` of `run` needs: for a cold file, its
    /// filter's answer first (`asked()` when the caller asked ahead, else read
    /// here); nil when the filter rules the key out. Otherwise the meta, pinned
    /// in the run's table when settled.
    func load(_ run: RunTable, _ file: Int, budgeted: Bool, hash: UInt64,
              asked: () async -> FilterAnswer?) async throws -> SstMeta? {
        let info = run.files[file]
        var partitionFooter: SstFooter?
        if run.withMeta(file, { _ in true }) == nil, metas.get(info.id) == nil {
            // A cold file is first asked through its filter alone (one partition of it when
            // the filter is large): only a file that may hold the key loads its index.
            let answer: FilterAnswer
            if let a = await asked() { answer = a } else { answer = try await mayContain(info, hash: hash) }
            if !answer.may { return nil }
            partitionFooter = answer.partitionFooter
        }
        let meta: SstMeta
        if let footer = partitionFooter {
            meta = try await metaSkippingFilter(info, footer: footer)
        } else {
            meta = try await self.meta(info)
        }
        pin(meta, in: run, file: file, budgeted: budgeted)
        return meta
    }

    /// The answers of the filters of `ssts` to `hash`, asked concurrently (by file
    /// id). A file whose filter fails to load is left out.
    func askFilters(_ ssts: [SstInfo], hash: UInt64) async -> [UInt64: FilterAnswer] {
        await withTaskGroup(of: (UInt64, FilterAnswer)?.self) { group in
            for sst in ssts {
                group.addTask { (try? await self.mayContain(sst, hash: hash)).map { (sst.id, $0) } }
            }
            var answers: [UInt64: FilterAnswer] = [:]
            for await case let (id, answer)? in group { answers[id] = answer }
            return answers
        }
    }

    /// The meta of `info`, from the cache or loaded (single-flight).
    func meta(_ info: SstInfo) async throws -> SstMeta {
        var tookFilter = false
        let m = try await metas.getOrLoad(info.id, charge: { $0.charge }) {
            let known = filters.get(info.id)
            tookFilter = known != nil
            return try await SstMetadataCache.loadMeta(store: store, id: info.id, object: info.path,
                                                       fileSize: Int(info.fileSize), filter: known)
        }
        // The meta holds the same filter now: charge it once, not in both caches. Dropped
        // only once the meta is cached, so a concurrent cold get finds one or the other.
        if tookFilter { filters.remove(info.id) }
        return m
    }

    /// Loads and parses the footer, filter, index and properties of an SST (two ranged
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

    /// Whether `info` may hold a key with `hash`: from its cached filter or meta,
    /// else from the least of its filter the file allows. The key-independent
    /// reads (footer, then the whole filter or the header of a partitioned one) are
    /// single-flight; a whole filter is handed to `filters`, and a file answered
    /// from one partition is queued on the warmer, which `startWarming` starts.
    func mayContain(_ info: SstInfo, hash: UInt64) async throws -> FilterAnswer {
        if let f = filters.get(info.id) { return (f.mayContain(hash), nil) }
        if let m = metas.get(info.id) { return (m.mayContain(hash), nil) }
        let located = try await probeFlights.getOrLoad(info.id, charge: { _ in 1 }) {
            let l = try await SstFilter.locate(store: store, id: info.id, object: info.path, fileSize: Int(info.fileSize))
            if case let .whole(f) = l { adoptFilter(info.id, f) }
            return l
        }
        switch located {
        case let .whole(f):
            return (f.mayContain(hash), nil)
        case let .partitioned(p):
            let may = try await p.probe(store: store, object: info.path, hash: hash)
            warmer.request(info)
            return (may, p.footer)
        }
    }

    /// The meta of `info` without its filter, for a file a partition of whose
    /// filter just passed the key: one read of the index and properties instead
    /// of those and the whole filter (the larger part of a big file's tail).
    /// Single-flight. Cached with its filter pending unless the whole filter is in
    /// `filters` by then, in which case the full meta takes it over.
    func metaSkippingFilter(_ info: SstInfo, footer: SstFooter) async throws -> SstMeta {
        if let m = metas.get(info.id) { return m }
        if filters.get(info.id) != nil { return try await meta(info) }
        return try await indexFlights.getOrLoad(info.id, charge: { _ in 1 }) {
            let fileSize = Int(info.fileSize)
            let tail = try await store.get(info.path, range: Int(footer.indexOffset)..<(fileSize - SstFooter.size))
            let pending = try SstMeta(id: info.id, object: info.path, footer: footer, tail: tail, fileSize: fileSize,
                                      filter: SstFilter(id: info.id, filter: nil, footer: footer), filterPending: true)
            let m = handOver.withLock { _ -> SstMeta in
                if let m = metas.get(info.id) { return m }
                if let f = filters.get(info.id) {
                    let full = SstMeta(pending, filter: f.filter)
                    metas.insert(info.id, full, charge: full.charge)
                    filters.remove(info.id)
                    return full
                }
                metas.insert(info.id, pending, charge: pending.charge)
                return pending
            }
            if m.filterPending { warmer.request(info) }
            return m
        }
    }

    /// Puts a whole filter loaded alone where gets will find it: into the cached
    /// meta of the file if that meta is pending, else (no meta cached) into
    /// `filters`. A cached full meta already has it.
    func adoptFilter(_ id: UInt64, _ f: SstFilter) {
        handOver.withLock { _ in
            if let m = metas.get(id) {
                guard m.filterPending else { return }
                let full = SstMeta(m, filter: f.filter)
                metas.insert(id, full, charge: full.charge)
            } else {
                filters.insert(id, f, charge: f.charge)
            }
        }
    }

    /// Whether the warmer should load the whole filter of `id`: no filter in
    /// memory for it (neither alone nor in a settled meta).
    func needsWholeFilter(_ id: UInt64) -> Bool {
        filters.get(id) == nil && (metas.get(id)?.filterPending ?? true)
    }

    /// Starts loading the whole filters queued by cold gets (once a get is done, so
    /// the loads do not compete with its reads).
    func startWarming() { warmer.start(self) }

    /// Drops queued filter loads and waits for the one in progress; later requests are ignored.
    func stopWarming() async { await warmer.stop() }

    /// Files queued for, or being, warmed (for tests).
    var warmingPending: Int { warmer.pending }

    /// Forgets the meta and filter of a deleted SST.
    func evict(_ id: UInt64) {
        handOver.withLock { _ in
            metas.remove(id)
            filters.remove(id)
        }
    }
}
