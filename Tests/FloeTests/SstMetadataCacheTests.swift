import Testing
@testable import Floe

/// `SstMetadataCache`, the one owner of SST metadata in memory: its interface
/// alone ("answer from memory or say what to load", then "load"), and concurrent
/// cold point gets of one SST loading its filter and meta once.
@Suite struct SstMetadataCacheTests {
    let table = TableID(1)

    func key(_ i: Int) -> [UInt8] { Array("key\(String(i).leftPad(6))".utf8) }
    func hash(_ k: [UInt8]) -> UInt64 { k.withUnsafeBytes { KeyHash.of(table: table, key: $0) } }

    /// Counts ranged reads per object and range, each one slowed so concurrent readers overlap.
    final class RangeCounter: ObjectStore {
        let inner: MemoryObjectStore
        private let reads = Lock<[String: Int]>([:])
        init(_ inner: MemoryObjectStore) { self.inner = inner }

        var counts: [String: Int] { reads.withLock { $0 } }

        func put(_ path: String, _ b: [UInt8]) async throws { try await inner.put(path, b) }
        func createIfAbsent(_ path: String, _ b: [UInt8]) async throws -> Bool { try await inner.createIfAbsent(path, b) }
        func get(_ path: String) async throws -> [UInt8] { try await inner.get(path) }
        func get(_ path: String, range: Range<Int>) async throws -> [UInt8] {
            reads.withLock { $0["\(path) \(range)", default: 0] += 1 }
            try await Task.sleep(for: .milliseconds(20))
            return try await inner.get(path, range: range)
        }
        func size(_ path: String) async throws -> Int { try await inner.size(path) }
        func delete(_ path: String) async throws { try await inner.delete(path) }
        func delete(_ paths: [String]) async throws { try await inner.delete(paths) }
        func list(prefix: String) async throws -> [ObjectInfo] { try await inner.list(prefix: prefix) }
    }

    /// The objects of a store compacted into one SST of `keys` keys, and that SST.
    func oneSst(keys: Int = 4_000) async throws -> (MemoryObjectStore, StoreOptions, SstInfo) {
        let objects = MemoryObjectStore()
        var o = StoreOptions()
        o.compaction.background = false
        let writer = try await StateStore.open(objectStore: objects, options: o)
        for i in 0..<keys { try writer.put(table, key: key(i), value: Array(repeating: UInt8(i & 0xFF), count: 40), epoch: 1) }
        try await writer.checkpoint(epoch: 1, metadata: [:])
        try await writer.compactUntilQuiescent()
        let ssts = writer.currentVersion.allSsts
        try await writer.close()
        #expect(ssts.count == 1)
        return (objects, o, ssts[0])
    }

    /// A hash of a key never written that the file's filter rules out.
    func ruledOutHash(_ filter: SstFilter) -> UInt64 {
        var i = 0
        while true {
            let h = hash(Array("absent\(i)".utf8))
            if !filter.mayContain(h) { return h }
            i += 1
        }
    }

    @Test func interfaceAnswersFromMemoryOrSaysWhatToLoad() async throws {
        let (objects, _, sst) = try await oneSst()
        let cache = SstMetadataCache(store: objects, metas: ShardedLRUCache(capacityBytes: 1 << 24, shardCount: 1),
                                     filters: ShardedLRUCache(capacityBytes: 1 << 22, shardCount: 1),
                                     pinBudget: MetaPinBudget(limit: 1 << 24))
        let present = hash(key(1_234))
        guard case .load = cache.cached(sst.id, hash: present) else { Issue.record("a cold file answered from memory"); return }

        // The filter alone: a small filter is read whole and kept; it answers from memory now.
        let answer = try await cache.mayContain(sst, hash: present)
        #expect(answer.may && answer.partitionFooter == nil)
        let filter = try #require(cache.filters.get(sst.id))
        let absent = ruledOutHash(filter)
        guard case .ruledOut = cache.cached(sst.id, hash: absent) else { Issue.record("the cached filter did not rule out"); return }
        guard case .load = cache.cached(sst.id, hash: present) else { Issue.record("a key the filter passes was settled"); return }

        // A key ruled out by the filter loads no meta.
        let run = RunTable([sst])
        let none = try await cache.load(run, 0, budgeted: true, hash: absent) { nil }
        #expect(none == nil && cache.metas.stats.inserts == 0)

        // A key the filter passes loads the meta, which takes the filter over and is pinned, charged.
        let meta = try #require(try await cache.load(run, 0, budgeted: true, hash: present) { nil })
        #expect(!meta.filterPending && meta.filter == filter.filter)
        #expect(cache.filters.get(sst.id) == nil, "the filter is held twice")
        #expect(run.withMeta(0, { $0 === meta }) == true)
        #expect(cache.pinBudget.usedBytes == meta.charge)
        guard case let .meta(m) = cache.cached(sst.id, hash: present), m === meta else { Issue.record("the loaded meta is not cached"); return }
        // An L0 run (unbudgeted) pins without charging.
        let l0 = RunTable([sst])
        cache.pin(meta, in: l0, file: 0, budgeted: false)
        #expect(l0.withMeta(0, { $0 === meta }) == true && cache.pinBudget.usedBytes == meta.charge)

        // A meta without its filter is never pinned; the filter handed over completes it.
        let partial = try SstMeta(id: sst.id, object: sst.path, footer: meta.footer,
                                  tail: try await objects.get(sst.path, range: Int(meta.footer.indexOffset)..<(Int(sst.fileSize) - SstFooter.size)),
                                  fileSize: Int(sst.fileSize), filter: SstFilter(id: sst.id, filter: nil, footer: meta.footer), filterPending: true)
        #expect(partial.filterPending && partial.filter == nil)
        let other = RunTable([sst])
        cache.pin(partial, in: other, file: 0, budgeted: false)
        #expect(other.withMeta(0, { _ in true }) == nil, "a meta pending its filter was pinned")
        cache.evict(sst.id)
        cache.metas.insert(sst.id, partial, charge: partial.charge)
        cache.adoptFilter(sst.id, filter)
        let completed = try #require(cache.metas.get(sst.id))
        #expect(!completed.filterPending && completed.filter == filter.filter && cache.filters.get(sst.id) == nil)

        // Evicted: back to "load".
        cache.evict(sst.id)
        guard case .load = cache.cached(sst.id, hash: absent) else { Issue.record("an evicted file answered from memory"); return }
        // Scans' whole meta, from a cold cache: one load, then hits.
        let scanned = try await cache.meta(sst)
        #expect(try await cache.meta(sst) === scanned && cache.metas.stats.inserts == 4)
    }

    @Test func concurrentColdGetsOfOneSstLoadItsFilterAndMetaOnce() async throws {
        let (objects, o, sst) = try await oneSst()
        let counter = RangeCounter(objects)
        let store = try await StateStore.open(objectStore: counter, options: o)
        // Keys next to each other: one data block.
        let keys = (1_000..<1_016).map(key)
        let values = try await withThrowingTaskGroup(of: ([UInt8], [UInt8]?).self) { group in
            for k in keys { group.addTask { (k, try await store.get(table, key: k, epoch: 1)) } }
            var out: [[UInt8]: [UInt8]?] = [:]
            for try await (k, v) in group { out[k] = v }
            return out
        }
        for (i, k) in zip(1_000..., keys) { #expect(values[k] == .some(Array(repeating: UInt8(i & 0xFF), count: 40))) }
        let reads = counter.counts.filter { $0.key.hasPrefix(sst.path + " ") }
        // The footer, the filter, the index and properties, the block: each once for 16 readers.
        #expect(reads.values.allSatisfy { $0 == 1 }, "ranges read more than once: \(reads.filter { $0.value > 1 })")
        #expect(reads.count == 4, "\(reads.count) distinct ranges read: \(reads.keys.sorted())")
        #expect(store.reader.metadata.metas.stats.inserts == 1)
        #expect(store.reader.metadata.filters.stats.inserts == 1)
        #expect(store.reader.metadata.filters.get(sst.id) == nil, "the filter is held twice")
        try await store.close()
    }

    /// A large partitioned filter: concurrent cold probes of different keys read the
    /// footer and the filter header once between them; each reads only its key's partition.
    @Test func concurrentColdProbesOfALargeFilterShareTheFooterAndHeader() async throws {
        let (objects, _, sst) = try await oneSst(keys: 30_000)
        let counter = RangeCounter(objects)
        let cache = SstMetadataCache(store: counter, metas: ShardedLRUCache(capacityBytes: 1 << 24, shardCount: 1),
                                     filters: ShardedLRUCache(capacityBytes: 1 << 22, shardCount: 1))
        let whole = try await SstFilter.load(store: objects, id: sst.id, object: sst.path, fileSize: Int(sst.fileSize))
        let footer = try #require(whole.footer)
        #expect(Int(footer.filterSize) > SstFilter.wholeReadMaxBytes)
        let keys = stride(from: 0, to: 30_000, by: 1_873).map(key)
        let answers = try await withThrowingTaskGroup(of: Bool.self) { group in
            for k in keys { group.addTask { try await cache.mayContain(sst, hash: hash(k)).may } }
            var out: [Bool] = []
            for try await may in group { out.append(may) }
            return out
        }
        #expect(answers.count == keys.count && answers.allSatisfy { $0 })
        let reads = counter.counts
        let head = "\(sst.path) \(Int(footer.filterOffset))..<\(Int(footer.filterOffset) + BloomFilter.partitionedHeaderSize)"
        #expect(reads[head] == 1, "filter header read \(reads[head] ?? 0) times")
        let footers = reads.filter { $0.key.hasSuffix("..<\(sst.fileSize)") }
        #expect(footers.count == 1 && footers.values.allSatisfy { $0 == 1 }, "footer reads: \(footers)")
        #expect(reads.values.reduce(0, +) <= 2 + keys.count)
        #expect(cache.filters.stats.inserts == 0 && cache.warmingPending == 1)
        await cache.stopWarming()
    }
}
