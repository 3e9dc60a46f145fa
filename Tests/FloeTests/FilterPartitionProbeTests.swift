import Testing
@testable import Floe

/// A cold get asks a large filter through one partition (SST format 3): about
/// 4 KiB read and checksummed instead of the whole filter, with the same answer,
/// and a damaged partition is an error, never "absent".
@Suite struct FilterPartitionProbeTests {
    let object = "data/0000000000000001.sst"
    let table = TableID(1)

    func key(_ i: Int) -> [UInt8] { Array("pk\(String(i).leftPad(7))".utf8) }

    /// An SST of `n` even-numbered keys (so odd ones are absent), its filter over 16 KiB at 10 bits per key for n >= 14,000.
    func build(_ n: Int, version: UInt32 = SstFooter.formatVersion) -> [UInt8] {
        var w = SstWriter(id: 1, options: SstWriterOptions(), formatVersion: version)
        for i in 0..<n {
            key(2 * i).withUnsafeBytes { k in
                [UInt8](repeating: UInt8(i & 0xFF), count: 8).withUnsafeBytes { v in
                    w.add(table: 1, userKey: k, epoch: 3, kind: ValueKind.put, value: v)
                }
            }
        }
        return w.finish().bytes
    }

    func probe(_ store: any ObjectStore, _ bytes: [UInt8], _ i: Int) async throws -> SstFilter.Probe {
        try await SstFilter.probe(store: store, id: 1, object: object, fileSize: bytes.count,
                                  hash: KeyHash.of(table: table, key: key(i)))
    }

    @Test func probeReadsOnePartitionAndAgreesWithTheWholeFilter() async throws {
        let bytes = build(30_000)
        let mem = MemoryObjectStore()
        try await mem.put(object, bytes)
        let store = ReadCountingStore(mem)
        let whole = try await SstFilter.load(store: mem, id: 1, object: object, fileSize: bytes.count)
        let filter = try #require(whole.filter)
        #expect(filter.bits.count > SstFilter.wholeReadMaxBytes)
        var rng = SplitMix64(seed: 21)
        var negatives = 0
        for _ in 0..<3_000 {
            let i = Int(rng.next() % 60_000)
            store.reset()
            guard case let .answer(may, _) = try await probe(store, bytes, i) else {
                Issue.record("key \(i): a format 3 file with a large filter was read whole")
                return
            }
            #expect(may == filter.mayContain(KeyHash.of(table: table, key: key(i))), "key \(i)")
            if i % 2 == 0 { #expect(may, "key \(i) is in the file") }
            if !may { negatives += 1 }
            // Footer, header, one partition of 64 blocks and its checksum.
            #expect(store.reads.load(ordering: .relaxed) == 3)
            #expect(store.bytes.load(ordering: .relaxed) <= SstFooter.size + 6 + 64 * 64 + 8, "key \(i)")
        }
        #expect(negatives > 1_300, "only \(negatives) of about 1,500 absent keys ruled out")
    }

    @Test func smallFiltersAndOlderFormatsAreReadWhole() async throws {
        for (n, version) in [(1_000, SstFooter.formatVersion), (30_000, 2)] {
            let bytes = build(n, version: version)
            let store = MemoryObjectStore()
            try await store.put(object, bytes)
            guard case let .whole(f) = try await probe(store, bytes, 2) else {
                Issue.record("\(n) keys, format \(version): answered from a partition")
                continue
            }
            #expect(f.mayContain(KeyHash.of(table: table, key: key(2))))
            #expect(f.filter?.layout == (version == 2 ? .blocked : .partitioned(shift: BloomFilter.defaultPartitionShift)))
        }
    }

    /// A flipped byte in a partition, or in the filter header, is reported for the
    /// keys that read it; keys whose partitions are intact still get their answer.
    @Test func damagedPartitionOrHeaderIsCorruptionNotAMiss() async throws {
        let bytes = build(30_000)
        let footer = try SstFooter.decode(Array(bytes[(bytes.count - SstFooter.size)...]), object: object, fileSize: bytes.count)
        let base = Int(footer.filterOffset)
        let good = try await SstFilter.load(store: MemoryObjectStore(objects: [object: bytes]), id: 1, object: object, fileSize: bytes.count)
        let blocks = good.filter!.bitCount / 512
        let shift = BloomFilter.defaultPartitionShift
        var rng = SplitMix64(seed: 8)
        for trial in 0..<20 {
            // Damage one byte of partition p (bits or checksum).
            let p = Int(rng.next() % UInt64(BloomFilter.partitionCount(blocks: blocks, shift: shift)))
            let r = BloomFilter.partitionRange(p, blocks: blocks, shift: shift)
            var bad = bytes
            bad[base + 6 + r.lowerBound + Int(rng.next() % UInt64(r.count))] ^= UInt8(1 + rng.next() % 255)
            let store = MemoryObjectStore(objects: [object: bad])
            var hit = 0, intact = 0
            for i in stride(from: 0, to: 60_000, by: 2) where hit < 5 || intact < 5 {
                let blk = BloomFilter.block(of: KeyHash.of(table: table, key: key(i)), blocks: blocks)
                do {
                    let answer = try await probe(store, bad, i)
                    #expect(blk >> shift != p, "trial \(trial): key \(i) read the damaged partition \(p) and got \(answer)")
                    if case let .answer(may, _) = answer { #expect(may, "trial \(trial): key \(i) is in the file") }
                    intact += 1
                } catch let FloeError.corruption(o, offset, _) {
                    #expect(blk >> shift == p, "trial \(trial): key \(i) failed outside the damaged partition")
                    #expect(o == object && offset == base + 6 + r.upperBound - 8)
                    hit += 1
                }
            }
            #expect(hit > 0 && intact > 0, "trial \(trial): \(hit) damaged, \(intact) intact reads")
        }
        // The header: a changed bit count or hash count no longer matches the partitions.
        for position in [0, 1, 2] {
            var bad = bytes
            bad[base + position] ^= position == 0 ? 0x01 : 0x40
            let store = MemoryObjectStore(objects: [object: bad])
            await #expect(throws: FloeError.self, "header byte \(position)") { _ = try await probe(store, bad, 0) }
        }
    }

    /// A store without background compaction, `epochs` checkpointed epochs of `keys`
    /// random puts (key index from `pick`), one L0 sub-level each; the model of what it holds.
    func written(epochs: Int, keys: Int, rng: inout SplitMix64, pick: (UInt64) -> Int) async throws
        -> (MemoryObjectStore, StoreOptions, StateStore, [Int: [UInt8]]) {
        let objects = MemoryObjectStore()
        var o = StoreOptions()
        o.compaction.background = false
        let writer = try await StateStore.open(objectStore: objects, options: o)
        var model: [Int: [UInt8]] = [:]
        for e in 1...epochs {
            for _ in 0..<keys {
                let i = pick(rng.next())
                let v = Array("v\(i)-e\(e)".utf8)
                try writer.put(table, key: key(i), value: v, epoch: Epoch(e))
                model[i] = v
            }
            try await writer.checkpoint(epoch: Epoch(e), metadata: [:])
        }
        return (objects, o, writer, model)
    }

    /// After a restart the first gets read partitions of the large filters; once a
    /// get is done the whole filters load in the background, and every later get
    /// agrees with the model, whichever way its files were read.
    @Test func coldGetsUsePartitionsThenWholeFiltersLoadBehindThem() async throws {
        for seed: UInt64 in [1, 2] {
            var rng = SplitMix64(seed: seed)
            let (objects, o, writer, model) = try await written(epochs: 4, keys: 20_000, rng: &rng) { Int($0 % 200_000) }
            #expect(writer.currentVersion.l0.count == 4, "seed \(seed)")
            try await writer.close()

            // Never written, and inside every file's key range.
            let absent = key(100_000) + [0x2E], absent2 = key(100_001) + [0x2E]
            let counter = ReadCountingStore(objects)
            do {
                // With the background loads stopped, the get's own reads alone: four files,
                // each asked through footer, header and one partition.
                let cold = try await StateStore.open(objectStore: counter, options: o)
                await cold.reader.metadata.stopWarming()
                counter.reset()
                #expect(try await cold.get(table, key: absent, epoch: 4) == nil, "seed \(seed)")
                #expect(counter.reads.load(ordering: .relaxed) == 3 * cold.currentVersion.allSsts.count, "seed \(seed)")
                #expect(counter.bytes.load(ordering: .relaxed) <= cold.currentVersion.allSsts.count * (SstFooter.size + 6 + 64 * 64 + 8), "seed \(seed)")
                try await cold.close()
            }
            let store = try await StateStore.open(objectStore: counter, options: o)
            let ssts = store.currentVersion.allSsts
            #expect(try await store.get(table, key: absent, epoch: 4) == nil, "seed \(seed)")
            // Behind it, the whole filters load.
            var waited = 0
            while store.reader.metadata.warmingPending > 0 || ssts.contains(where: { store.reader.metadata.filters.get($0.id) == nil }) {
                try await Task.sleep(for: .milliseconds(5))
                waited += 1
                guard waited < 2_000 else {
                    Issue.record("seed \(seed): whole filters not loaded after 10 s")
                    break
                }
            }
            counter.reset()
            #expect(try await store.get(table, key: absent2, epoch: 4) == nil, "seed \(seed)")
            #expect(counter.reads.load(ordering: .relaxed) <= 2, "seed \(seed): a get over warm filters read \(counter.reads.load(ordering: .relaxed)) times")
            for _ in 0..<3_000 {
                let i = Int(rng.next() % 200_000)
                #expect(try await store.get(table, key: key(i), epoch: 4) == model[i], "seed \(seed) key \(i)")
            }
            try await store.close()
        }
    }

    /// A file that one partition of its filter passed loads its index and
    /// properties alone (not the filter, the larger part of its tail), whether it
    /// is a bottom-level file or a large L0 file; the filter joins its cached meta
    /// in the background (and only then does an L0 file's meta enter the version's
    /// table), and every answer matches the model before and after.
    @Test(arguments: [true, false])
    func filePassedByAPartitionLoadsItsIndexAlone(compacted: Bool) async throws {
        for seed: UInt64 in [3, 4] {
            var rng = SplitMix64(seed: seed)
            // Odd keys are never written. Uncompacted: one L0 sub-level of about 40,000 keys.
            let (objects, o, writer, model) = try await written(epochs: compacted ? 3 : 1, keys: compacted ? 25_000 : 50_000,
                                                                rng: &rng) { Int($0 % 100_000) * 2 }
            let top = Epoch(compacted ? 3 : 1)
            if compacted { try await writer.compactUntilQuiescent() }
            let v = writer.currentVersion
            if compacted {
                #expect(v.l0.isEmpty && v.levels.contains { !$0.isEmpty }, "seed \(seed)")
            } else {
                #expect(v.l0.count == 1 && v.l0[0].count == 1, "seed \(seed)")
            }
            try await writer.close()

            let counter = ReadCountingStore(objects)
            let store = try await StateStore.open(objectStore: counter, options: o)
            await store.reader.metadata.stopWarming()  // the get's own reads alone first
            let present = model.keys.sorted()[model.count / 2]
            let k = key(present)
            func user(_ full: [UInt8]) -> [UInt8] { full.withUnsafeBytes { Array(FullKey.userKey($0)) } }
            let holds: (SstInfo) -> Bool = { s in
                !k.lexicographicallyPrecedes(user(s.smallestKey)) && !user(s.largestKey).lexicographicallyPrecedes(k)
            }
            let files = compacted ? Array(store.currentVersion.levels.joined()) : Array(store.currentVersion.l0.joined())
            let sst = try #require(files.first(where: holds))
            let size = Int(sst.fileSize)
            let footerBytes = try await objects.get(sst.path, range: (size - SstFooter.size)..<size)
            let footer = try SstFooter.decode(footerBytes, object: sst.path, fileSize: size)
            #expect(footer.filterSize > UInt32(SstFilter.wholeReadMaxBytes), "seed \(seed): filter of \(footer.filterSize) bytes")
            counter.reset()
            #expect(try await store.get(table, key: key(present), epoch: top) == model[present], "seed \(seed)")
            // Footer, filter header, one partition, index and properties, one data block: never the filter.
            #expect(counter.reads.load(ordering: .relaxed) == 5, "seed \(seed)")
            let bound = Int(footer.indexSize) + Int(footer.propertiesSize) + 3 * 4_096 + 128
            let read = counter.bytes.load(ordering: .relaxed)
            #expect(read < bound, "seed \(seed): \(read) bytes read")
            let pending = try #require(store.reader.metadata.metas.get(sst.id))
            #expect(pending.filterPending && pending.filter == nil, "seed \(seed)")
            if !compacted {
                #expect(store.currentVersion.runTables[0].withMeta(0) { _ in true } == nil, "seed \(seed): a meta without its filter in the L0 table")
            }
            // Without its filter the file still answers right, absent keys included.
            for _ in 0..<500 {
                let i = Int(rng.next() % 200_000)
                #expect(try await store.get(table, key: key(i), epoch: top) == model[i], "seed \(seed) key \(i)")
            }
            try await store.close()

            // With the background loads running, the filter joins the cached meta.
            let warm = try await StateStore.open(objectStore: objects, options: o)
            #expect(try await warm.get(table, key: key(present), epoch: top) == model[present], "seed \(seed)")
            var waited = 0
            while warm.reader.metadata.warmingPending > 0 || warm.reader.metadata.metas.get(sst.id)?.filterPending != false {
                try await Task.sleep(for: .milliseconds(5))
                waited += 1
                guard waited < 2_000 else {
                    Issue.record("seed \(seed): filter not attached after 10 s")
                    break
                }
            }
            let full = try #require(warm.reader.metadata.metas.get(sst.id))
            let loaded = try await SstFilter.load(store: objects, id: sst.id, object: sst.path, fileSize: Int(sst.fileSize))
            #expect(full.filter == loaded.filter && !full.filterPending, "seed \(seed)")
            if !compacted {
                // The next get through the file puts the completed meta in the L0 table.
                #expect(try await warm.get(table, key: key(present), epoch: top) == model[present], "seed \(seed)")
                #expect(warm.currentVersion.runTables[0].withMeta(0) { $0.filter == loaded.filter } == true, "seed \(seed)")
            }
            for _ in 0..<2_000 {
                let i = Int(rng.next() % 200_000)
                #expect(try await warm.get(table, key: key(i), epoch: top) == model[i], "seed \(seed) key \(i)")
            }
            try await warm.close()
        }
    }

    /// A warmer load and a cold get's index-only meta, in either order, end with
    /// the meta holding its filter and no filter cached beside it: a meta left
    /// without its filter would skip the bloom check on every later get of the
    /// file. Both orders, on a bottom-level file, through `SstMetadataCache`'s
    /// hand-over (the state "pending meta beside its cached filter" cannot arise).
    @Test func warmerLoadRacingAColdGetStillCompletesTheMeta() async throws {
        for filterFirst in [false, true] {
            var rng = SplitMix64(seed: 12)
            let (objects, o, writer, model) = try await written(epochs: 3, keys: 25_000, rng: &rng) { Int($0 % 100_000) * 2 }
            try await writer.compactUntilQuiescent()
            try await writer.close()
            let store = try await StateStore.open(objectStore: objects, options: o)
            await store.reader.metadata.stopWarming()
            let present = model.keys.sorted()[model.count / 3]
            let sst = try #require(store.currentVersion.levels.joined().first { s in
                s.smallestKey.withUnsafeBytes { Array(FullKey.userKey($0)) }.lexicographicallyPrecedes(key(present) + [0])
                    && !s.largestKey.withUnsafeBytes { Array(FullKey.userKey($0)) }.lexicographicallyPrecedes(key(present))
            })
            let whole = try await SstFilter.load(store: objects, id: sst.id, object: sst.path, fileSize: Int(sst.fileSize))
            if filterFirst {
                // The load landed first, with no meta to complete: the get's own read takes it over.
                store.reader.metadata.adoptFilter(sst.id, whole)
                #expect(store.reader.metadata.filters.get(sst.id) != nil)
                let probe = try await SstFilter.probe(store: objects, id: sst.id, object: sst.path, fileSize: Int(sst.fileSize),
                                                      hash: KeyHash.of(table: table, key: key(present)))
                guard case let .answer(_, footer) = probe else { Issue.record("large filter read whole"); continue }
                let m = try await store.reader.metadata.metaSkippingFilter(sst, footer: footer)
                #expect(!m.filterPending && m.filter == whole.filter, "filter first")
            } else {
                // The get left a meta without its filter; the load that follows completes it.
                #expect(try await store.get(table, key: key(present), epoch: 3) == model[present])
                #expect(store.reader.metadata.metas.get(sst.id)?.filterPending == true)
                store.reader.metadata.adoptFilter(sst.id, whole)
                #expect(try await store.get(table, key: key(present), epoch: 3) == model[present])
            }
            let m = try #require(store.reader.metadata.metas.get(sst.id))
            #expect(!m.filterPending && m.filter == whole.filter, "filter first: \(filterFirst)")
            #expect(store.reader.metadata.filters.get(sst.id) == nil, "filter first: \(filterFirst): the filter is held twice")
            for _ in 0..<300 {
                let i = Int(rng.next() % 200_000)
                #expect(try await store.get(table, key: key(i), epoch: 3) == model[i], "key \(i)")
            }
            try await store.close()
        }
    }
}
