import Floe

/// prefixjoin: the lookups of a stream join on a large table. `--num` rows keyed
/// by an 8-byte join key (big-endian) and an 8-byte row number, `rowsPerKey` rows
/// per join key, with only the even join keys present; loaded in random join-key
/// order in epochs of `--epoch-keys`, then compacted to quiescence. Then `--seeks`
/// prefix scans (`scan(_:prefix:epoch:)`) of random join keys, half present
/// (`rowsPerKey` rows each) and half missing (odd, so inside the files' key
/// ranges: only a filter can rule them out). Run twice on fresh stores: without
/// a prefix filter and with `prefixFilterLengths = [table: 8]`; each row is the
/// scan phase, timed.
struct PrefixJoinWorkload: Sendable {
    static let rowsPerKey = 4
    let options: StoreOptions
    let table: TableID
    let joinKeys: Int
    let scans: Int
    let valueSize: Int
    let epochKeys: Int
    let seed: UInt64
    let memory: Bool

    struct Outcome {
        var scans = 0
        var rows = 0
        var seconds = 0.0
        var latency = LatencyHistogram()
        var stats: StoreStatistics?
        var before: StoreStatistics?
    }

    static func key(_ join: UInt64, _ row: UInt64) -> [UInt8] {
        var k = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 {
            k[i] = UInt8(truncatingIfNeeded: join >> (56 - 8 * UInt64(i)))
            k[8 + i] = UInt8(truncatingIfNeeded: row >> (56 - 8 * UInt64(i)))
        }
        return k
    }

    func run(prefixFilter: Bool) async throws -> Outcome {
        var o = options
        o.prefixFilterLengths = prefixFilter ? [table: 8] : [:]
        var dir: String?
        let store: any ObjectStore
        if memory {
            store = MemoryObjectStore()
        } else {
            let d = try makeTempDir(prefix: "floe-prefixjoin")
            dir = d
            store = try LocalObjectStore(root: d)
        }
        defer { if let dir { try? removeTree(dir) } }
        let db = try await StateStore.open(objectStore: store, options: o)
        let name = prefixFilter ? "prefixjoin load (prefix filter)" : "prefixjoin load (no filter)"
        let load = ProgressBar(name, total: joinKeys * Self.rowsPerKey)
        // Join keys 0, 2, 4, ... in a random order.
        var order = (0..<joinKeys).map { UInt64($0) * 2 }
        var rng = SplitMix64(seed: seed)
        order.shuffle(using: &rng)
        var epoch: Epoch = 1, inEpoch = 0
        let value = [UInt8](repeating: 0x5A, count: valueSize)
        for j in order {
            for r in 0..<UInt64(Self.rowsPerKey) {
                try db.put(table, key: Self.key(j, r), value: value, epoch: epoch)
            }
            inEpoch += Self.rowsPerKey
            if inEpoch >= epochKeys {
                try await db.checkpoint(epoch: epoch, metadata: [:])
                load.advance(inEpoch)
                epoch += 1
                inEpoch = 0
            }
        }
        try await db.checkpoint(epoch: epoch, metadata: [:])
        load.finish()
        _ = try await db.compactUntilQuiescent()

        var out = Outcome()
        out.before = db.statistics
        let bar = ProgressBar(prefixFilter ? "prefixjoin (prefix filter)" : "prefixjoin (no filter)", total: scans)
        var probe = SplitMix64(seed: seed ^ 0x9_0111)
        let committed = db.committedEpoch
        var wrong = 0
        out.seconds = try await Timer.measure {
            for i in 0..<scans {
                let j = probe.next() % UInt64(2 * joinKeys)
                let t0 = Timer.nanos()
                var rows = 0
                try await db.scan(table, prefix: Array(Self.key(j, 0)[0..<8]), epoch: committed).forEachRow { _, _ in
                    rows += 1
                    return true
                }
                out.latency.record(since: t0)
                out.rows += rows
                if rows != (j % 2 == 0 ? Self.rowsPerKey : 0) { wrong += 1 }
                if i & 1023 == 1023 { bar.advance(1024) }
            }
        }
        bar.finish()
        out.scans = scans
        out.stats = db.statistics
        try await db.close()
        if wrong > 0 { throw WorkloadError("prefixjoin: \(wrong) scans returned the wrong number of rows") }
        return out
    }

    /// Both runs, as two report rows: no filter first, then the prefix filter.
    static func benchmark(_ ctx: BenchContext, onResult: (BenchResult) -> Void) async throws {
        let o = ctx.options
        let w = PrefixJoinWorkload(options: ctx.storeOptions, table: ctx.table, joinKeys: max(1, o.num / rowsPerKey),
                                   scans: o.seekCount, valueSize: o.valueSize, epochKeys: o.epochKeys, seed: o.seed,
                                   memory: o.store == "memory")
        for filter in [false, true] {
            let out = try await w.run(prefixFilter: filter)
            var r = BenchResult(name: filter ? "prefixjoin/filter" : "prefixjoin/nofilter", ops: out.scans, seconds: out.seconds)
            r.latency = out.latency
            r.latencyOf = "scan"
            let s = out.stats!, b = out.before!
            let skipped = s.prefixFilterSkippedFiles - b.prefixFilterSkippedFiles
            r.details = [
                "\(grouped(out.scans)) prefix scans of \(grouped(w.joinKeys)) join keys (half missing), \(rowsPerKey) rows each: \(grouped(out.rows)) rows; \(s.sstCount) SSTs; latency \(out.latency.summary)",
                "files skipped by the prefix filter: \(grouped(skipped)) (\(fmt(Double(skipped) / Double(max(1, out.scans)), 2)) per scan)",
                cacheLine(before: b, after: s),
            ]
            r.extra = [("prefix_filter", .bool(filter)), ("filter_skipped_files", .int(Int64(skipped))), ("rows", .int(Int64(out.rows)))]
            onResult(r)
        }
    }
}
