import Testing
@testable import Floe

/// Prefix scans: against the in-memory model of `ReadModelRun` (200 seeds, prefix
/// filters of 1...3 bytes on table 1, none on table 2; prefixes of 0...4 bytes, so
/// shorter, equal and longer than the filter's), and proof that the filter makes
/// files go unread. A model failure names `seed S op N`.
@Suite struct PrefixScanTests {
    static let seeds: [UInt64] = Array(0..<200)

    /// The model's rows of `table` whose key starts with `prefix`.
    static func expected(_ map: [ModelKey: [UInt8]], table: UInt32, prefix: [UInt8]) -> [Row] {
        map.filter { $0.key.table == table && $0.key.key.starts(with: prefix) }
            .sorted { $0.key < $1.key }
            .map { Row(key: $0.key.key, value: $0.value) }
    }

    @Test(arguments: seeds)
    func prefixScanMatchesModel(seed: UInt64) async throws {
        let run = try await ReadModelRun(seed: seed, prefixLength: seed % 4 == 3 ? nil : Int(1 + seed % 3))
        for _ in 0..<70 {
            try await run.step()
            guard run.int(3) == 0 else { continue }
            let (e, map) = run.readEpoch()
            let table = UInt32(1 + run.int(2))
            let prefix = run.int(6) == 0 ? [] : run.randomKey()
            let got = try await collectRows(run.store.scan(TableID(table), prefix: prefix, epoch: e))
            #expect(got == Self.expected(map, table: table, prefix: prefix), "\(run.where_): prefix \(prefix) of t\(table) at \(e)")
            if e < run.epoch, let snap = try? run.store.snapshot(epoch: e) {
                let s = try await collectRows(snap.scan(TableID(table), prefix: prefix))
                #expect(s == Self.expected(map, table: table, prefix: prefix), "\(run.where_): snapshot prefix \(prefix) at \(e)")
                snap.release()
            }
        }
        try await run.store.close()
    }

    @Test func successorOfAPrefix() {
        #expect(PrefixScan.successor([]) == nil)
        #expect(PrefixScan.successor([0xFF, 0xFF]) == nil)
        #expect(PrefixScan.successor([1, 2]) == [1, 3])
        #expect(PrefixScan.successor([1, 0xFF]) == [2])
        #expect(PrefixScan.successor([0, 0xFE, 0xFF]) == [0, 0xFF])
    }

    /// 8-byte join keys, three rows each, over many files of one level; every other
    /// join key is left out, so a missing one lies inside some file's key range and
    /// only the filter can rule the file out.
    static func loadJoinTable(prefixFilter: Bool) async throws -> StateStore {
        var o = StoreOptions()
        o.sst.blockSize = 512
        o.sst.targetFileSize = 4096
        o.compaction.targetFileSize = 4096
        o.compaction.baseLevelBytes = 16384
        if prefixFilter { o.prefixFilterLengths = [TableID(1): 8] }
        let store = try await StateStore.open(objectStore: MemoryObjectStore(), options: o)
        var e: Epoch = 1
        for chunk in 0..<4 {
            for j in stride(from: UInt64(chunk), to: 4000, by: 4) where j % 2 == 0 {
                for r in UInt64(0)..<3 {
                    try store.put(TableID(1), key: be(j) + be(r), value: [UInt8(truncatingIfNeeded: j &+ r)], epoch: e)
                }
            }
            try await store.checkpoint(epoch: e, metadata: [:])
            e += 1
        }
        _ = try await store.compactUntilQuiescent()
        return store
    }

    static func be(_ v: UInt64) -> [UInt8] { (0..<8).reversed().map { UInt8(truncatingIfNeeded: v >> (UInt64($0) * 8)) } }

    @Test func prefixFilterSkipsFilesThatCannotHoldThePrefix() async throws {
        let store = try await Self.loadJoinTable(prefixFilter: true)
        let epoch = store.committedEpoch
        #expect(store.statistics.sstCount >= 8, "the table must span many files")
        var rng = SplitMix64(seed: 5)
        for _ in 0..<200 {
            let j = rng.next() % 4000
            let rows = try await collectRows(store.scan(TableID(1), prefix: Self.be(j), epoch: epoch))
            let want = j % 2 == 0 ? (UInt64(0)..<3).map { Row(key: Self.be(j) + Self.be($0), value: [UInt8(truncatingIfNeeded: j &+ $0)]) } : []
            #expect(rows == want, "join key \(j)")
        }
        let skipped = store.statistics.prefixFilterSkippedFiles
        // About 100 of the missing join keys fall inside a file's range; a 10-bit filter
        // lets through about 1% of them.
        #expect(skipped >= 80, "the prefix filter skipped only \(skipped) files")
        // Prefixes shorter than the filter's length are never asked of it.
        let before = store.statistics.prefixFilterSkippedFiles
        let short = try await collectRows(store.scan(TableID(1), prefix: Array(Self.be(1)[0..<7]), epoch: epoch))
        var wantShort: [Row] = []
        for j in stride(from: UInt64(0), to: 256, by: 2) {
            for r in UInt64(0)..<3 { wantShort.append(Row(key: Self.be(j) + Self.be(r), value: [UInt8(truncatingIfNeeded: j &+ r)])) }
        }
        #expect(short == wantShort)
        #expect(store.statistics.prefixFilterSkippedFiles == before)
        try await store.close()

        let plain = try await Self.loadJoinTable(prefixFilter: false)
        for j in UInt64(0)..<200 {
            #expect(try await collectRows(plain.scan(TableID(1), prefix: Self.be(j), epoch: epoch)).count == (j % 2 == 0 ? 3 : 0))
        }
        #expect(plain.statistics.prefixFilterSkippedFiles == 0, "files without a prefix filter are never skipped by it")
        try await plain.close()
    }

    /// Files keep the length they were built with: reopened with another length, the
    /// store still answers every prefix exactly, and asks the old files' filters only
    /// with prefixes at least as long as their length.
    @Test func changingThePrefixLengthKeepsOldFilesReadable() async throws {
        let objects = MemoryObjectStore()
        var o = StoreOptions()
        o.prefixFilterLengths = [TableID(1): 4]
        var store = try await StateStore.open(objectStore: objects, options: o)
        var model: [ModelKey: [UInt8]] = [:]
        for i in UInt8(0)..<50 {
            let k: [UInt8] = [i % 5, i % 3, i % 7, i, 9]
            try store.put(TableID(1), key: k, value: [i], epoch: 1)
            model[ModelKey(1, k)] = [i]
        }
        try await store.checkpoint(epoch: 1, metadata: [:])
        try await store.close()
        o.prefixFilterLengths = [TableID(1): 2]
        store = try await StateStore.open(objectStore: objects, options: o)
        for i in UInt8(0)..<50 where i % 2 == 1 {
            let k: [UInt8] = [i % 5, i % 3, 0xFF]
            try store.put(TableID(1), key: k, value: [i, i], epoch: 2)
            model[ModelKey(1, k)] = [i, i]
        }
        try await store.checkpoint(epoch: 2, metadata: [:])
        for a in UInt8(0)..<6 {
            for b in UInt8(0)..<4 {
                for c in [nil, UInt8(0), 1, 2, 0xFF] as [UInt8?] {
                    for d in [nil, UInt8(1), 9] as [UInt8?] {
                        var p: [UInt8] = [a, b]
                        if let c { p.append(c) }
                        if let d { p.append(d) }
                        let got = try await collectRows(store.scan(TableID(1), prefix: p, epoch: 2))
                        #expect(got == Self.expected(model, table: 1, prefix: p), "prefix \(p)")
                    }
                }
            }
        }
        try await store.close()
    }

    @Test func prefixLengthOutsideItsRangeIsRefused() async throws {
        for n in [0, -1, 1025] {
            var o = StoreOptions()
            o.prefixFilterLengths = [TableID(3): n]
            let r = await capture { try await StateStore.open(objectStore: MemoryObjectStore(), options: o) }
            guard case .failure(.invalidArgument) = r else { Issue.record("length \(n) accepted: \(r)"); continue }
        }
    }

    /// The prefix filter's bytes round-trip through the properties block, and a
    /// format 3 reader's view (no trailer) is what a file without one decodes to.
    @Test func propertiesCarryThePrefixFilter() throws {
        var p = SstProperties()
        p.smallestKey = FullKey.encode(table: TableID(1), userKey: [1], epoch: 1)
        p.largestKey = FullKey.encode(table: TableID(2), userKey: [2], epoch: 1)
        p.prefixTables = [PrefixFilterTable(table: 1, length: 2), PrefixFilterTable(table: 2, length: 3)]
        let hashes = [KeyHash.of(table: TableID(1), key: [1, 2]), KeyHash.of(table: TableID(2), key: [7, 7, 7])]
        p.prefixFilter = BloomFilter.build(hashes: hashes, bitsPerKey: 10, layout: .blocked)
        let d = try SstProperties.decode(p.encode(), object: "x", offset: 0, formatVersion: 4)
        #expect(d == p)
        #expect(([1, 2, 3] as [UInt8]).withUnsafeBytes { d.mayContain(table: 1, prefix: $0) })
        #expect(([7, 7, 7] as [UInt8]).withUnsafeBytes { d.mayContain(table: 2, prefix: $0) })
        #expect(([1] as [UInt8]).withUnsafeBytes { d.mayContain(table: 1, prefix: $0) }, "shorter than the length: never ruled out")
        #expect(([5, 5] as [UInt8]).withUnsafeBytes { d.mayContain(table: 3, prefix: $0) }, "a table without a filter: never ruled out")
        var plain = p
        plain.prefixTables = []
        plain.prefixFilter = nil
        #expect(try SstProperties.decode(plain.encode(), object: "x", offset: 0, formatVersion: 3) == plain)
        let r = Result { try SstProperties.decode(p.encode(), object: "x", offset: 0, formatVersion: 3) }
        guard case .failure(FloeError.corruption) = r else { Issue.record("a trailer in a format 3 file must be corruption: \(r)"); return }
    }
}

/// `floe compact --prefix-filter TABLE=N`.
@Suite struct PrefixFilterSpecTests {
    @Test func parsesTableEqualsLength() throws {
        #expect(try PrefixFilterSpec.parse([]) == [:])
        #expect(try PrefixFilterSpec.parse(["1=8", "42=3"]) == [TableID(1): 8, TableID(42): 3])
        #expect(PrefixFilterSpec.arguments([TableID(42): 3, TableID(1): 8]) == ["--prefix-filter", "1=8", "--prefix-filter", "42=3"])
        for bad in ["1", "1=0", "1=1025", "x=2", "1=2=3", "=4", "1=8,2=3"] {
            #expect(throws: FloeError.self, "\(bad)") { try PrefixFilterSpec.parse([bad]) }
        }
        #expect(throws: FloeError.self) { try PrefixFilterSpec.parse(["1=8", "1=4"]) }
    }
}

/// A standalone compactor given the writer's prefix lengths (what `floe compact
/// --prefix-filter` passes) writes its outputs with the prefix filter; without
/// them its outputs have none, and prefix scans still answer exactly.
@Suite struct StandaloneCompactorPrefixFilterTests {
    @Test(arguments: [true, false])
    func compactorOutputsCarryTheFilterItWasGiven(given: Bool) async throws {
        let objects = MemoryObjectStore()
        var o = StoreOptions()
        o.compaction.background = false
        o.compaction.l0CompactionTrigger = 2
        o.prefixFilterLengths = [TableID(1): 8]
        let store = try await StateStore.open(objectStore: objects, options: o)
        for e in Epoch(1)...4 {
            for j in UInt64(0)..<50 where (j + e) % 2 == 0 {
                try store.put(TableID(1), key: PrefixScanTests.be(j * 2) + PrefixScanTests.be(e), value: [UInt8(e)], epoch: e)
            }
            try await store.checkpoint(epoch: e, metadata: [:])
        }
        var co = StoreOptions()
        co.compaction.l0CompactionTrigger = 2
        if given { co.prefixFilterLengths = try PrefixFilterSpec.parse(["1=8"]) }
        let compactor = try await Compactor.attach(objectStore: objects, options: co)
        var ran = 0
        while try await compactor.runOnce() != nil { ran += 1 }
        #expect(ran > 0, "the compactor must have run a task")
        let v = try await compactor.currentVersion()
        await compactor.detach()
        #expect(v.l0.isEmpty && !v.levels.joined().isEmpty)
        for f in v.levels.joined() {
            let meta = try await store.reader.meta(f)
            #expect((meta.properties.prefixFilter != nil) == given, "output \(f.id): prefix filter present must be \(given)")
            #expect(meta.properties.prefixTables == (given ? [PrefixFilterTable(table: 1, length: 8)] : []))
        }
        _ = try await store.followManifest()
        let epoch = store.committedEpoch
        for j in UInt64(0)..<100 {
            let rows = try await collectRows(store.scan(TableID(1), prefix: PrefixScanTests.be(j), epoch: epoch))
            let want = j % 2 == 0 ? (Epoch(1)...4).filter { (j / 2 + $0) % 2 == 0 }.count : 0
            #expect(rows.count == want, "join key \(j)")
        }
        try await store.close()
    }
}
