import Floe

/// The overwrite-and-delete workload: fill `keys` distinct keys, then apply
/// `keys / 2` overwrites and `keys / 5` deletes of random keys, every epoch of
/// `epochKeys` writes checkpointed; run compaction to quiescence; then check
/// every key with a get and a full scan against the expected state, and report
/// write amplification, space amplification, fill rate and the worst stall.
struct OverwriteWorkload {
    let keys: Int
    let epochKeys: Int
    let valueSize: Int
    let seed: UInt64
    let pipeline: Int

    struct Outcome {
        var writes = 0
        var seconds = 0.0
        var quiesceSeconds = 0.0
        var liveKeys = 0
        var liveBytes: UInt64 = 0
        /// Live bytes measured like `SstInfo.rawBytes`: user key + 12, value + 1.
        var liveRawBytes: UInt64 = 0
        var stats: StoreStatistics?
    }

    let filler: BenchValues

    /// Value of key `k` at write generation `g`: first 8 bytes name both, the rest is
    /// half-compressible filler like the fill benchmark's values.
    func value(_ k: Int, _ g: UInt32) -> [UInt8] {
        var v = filler.value(k &* 7 &+ Int(g))
        for b in 0..<min(4, valueSize) { v[b] = UInt8(truncatingIfNeeded: k >> (8 * b)) }
        for b in 0..<min(4, max(0, valueSize - 4)) { v[4 + b] = UInt8(truncatingIfNeeded: g >> (8 * UInt32(b))) }
        return v
    }

    func run(_ db: StateStore, keyOf: (Int) -> [UInt8]) async throws -> Outcome {
        var out = Outcome()
        var rng = SplitMix64(seed: seed)
        // generation[k]: 0 = never written or deleted, else the write count that produced the live value.
        var generation = [UInt32](repeating: 0, count: keys)
        var ops: [(key: Int, delete: Bool)] = (0..<keys).map { ($0, false) }
        for _ in 0..<(keys / 2) { ops.append((Int(rng.next() % UInt64(keys)), false)) }
        for _ in 0..<(keys / 5) { ops.append((Int(rng.next() % UInt64(keys)), true)) }
        // Shuffle only the update phase: the fill goes first, in random key order.
        for i in stride(from: keys - 1, to: 0, by: -1) { ops.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let updates = keys
        for i in stride(from: ops.count - 1, to: updates, by: -1) {
            ops.swapAt(i, updates + Int(rng.next() % UInt64(i - updates + 1)))
        }
        var pipe = try CheckpointPipeline(store: db, depth: pipeline)
        let table = TableID(1)
        out.seconds = try await Timer.measure {
            var i = 0
            while i < ops.count {
                let epoch = pipe.epoch
                let end = min(ops.count, i + epochKeys)
                while i < end {
                    let (k, del) = ops[i]
                    if del {
                        try db.delete(table, key: keyOf(k), epoch: epoch)
                        generation[k] = 0
                    } else {
                        generation[k] &+= 1
                        if generation[k] == 0 { generation[k] = 1 }
                        try db.put(table, key: keyOf(k), value: value(k, generation[k]), epoch: epoch)
                    }
                    i += 1
                }
                try await pipe.endEpoch()
            }
            _ = try await pipe.drain()
        }
        out.writes = ops.count
        out.quiesceSeconds = try await Timer.measure { _ = try await db.compactUntilQuiescent() }
        let readEpoch = db.committedEpoch
        // Every key by get.
        for k in 0..<keys {
            let got = try await db.get(table, key: keyOf(k), epoch: readEpoch)
            let want: [UInt8]? = generation[k] == 0 ? nil : value(k, generation[k])
            guard got == want else { throw WorkloadError("overwrite: key \(k) read \(got.map { "\($0.count) bytes" } ?? "nil"), expected \(want.map { "\($0.count) bytes" } ?? "nil")") }
            if let w = want {
                out.liveKeys += 1
                out.liveBytes += UInt64(keyOf(k).count + w.count)
                out.liveRawBytes += UInt64(keyOf(k).count + 12 + w.count + 1)
            }
        }
        // And by a full scan, in key order.
        var expected = (0..<keys).filter { generation[$0] != 0 }.map { (keyOf($0), $0) }
        expected.sort { $0.0.lexicographicallyPrecedes($1.0) }
        var n = 0
        for try await (k, v) in try await db.scan(table, from: nil, to: nil, epoch: readEpoch) {
            guard n < expected.count, k == expected[n].0, v == value(expected[n].1, generation[expected[n].1]) else {
                throw WorkloadError("overwrite: scan diverged at row \(n)")
            }
            n += 1
        }
        guard n == expected.count else { throw WorkloadError("overwrite: scan returned \(n) rows, expected \(expected.count)") }
        out.stats = db.statistics
        return out
    }
}

extension OverwriteWorkload {
    /// The overwrite benchmark on the shared store, as a report row; records a
    /// failure when `--max-space-amp` is exceeded.
    static func benchmark(_ ctx: BenchContext) async throws -> BenchResult {
        let db = try await ctx.store()
        let o = ctx.options
        let w = OverwriteWorkload(keys: o.num, epochKeys: o.epochKeys, valueSize: o.valueSize, seed: o.seed,
                                  pipeline: o.pipeline, filler: ctx.values)
        let out = try await w.run(db, keyOf: ctx.keys.key)
        ctx.presence = .unknown
        let st = out.stats!
        let rawAmp = Double(st.sstRawBytes) / Double(max(1, out.liveRawBytes))
        let diskAmp = Double(st.sstBytes) / Double(max(1, out.liveBytes))
        var r = BenchResult(name: "overwrite", ops: out.writes, seconds: out.seconds)
        r.bytes = out.writes * (o.keySize + o.valueSize)
        r.details = [
            "\(grouped(out.writes)) writes (fill, then \(grouped(o.num / 2)) overwrites and \(grouped(o.num / 5)) deletes); quiesce \(fmt(out.quiesceSeconds, 3)) s, \(st.compactions) compactions",
            "verified \(grouped(out.liveKeys)) live keys by get and scan",
            "write amp \(fmt(st.writeAmplification, 2)) (flush \(st.flushWrittenBytes >> 20) MiB + compaction \(st.compactionWrittenBytes >> 20) MiB over \(st.ingestedBytes >> 20) MiB ingested)",
            "space amp \(fmt(diskAmp, 3)) on disk (\(st.sstBytes >> 20) MiB SST files over \(out.liveBytes >> 20) MiB live key+value bytes), \(fmt(rawAmp, 3)) uncompressed (\(st.sstRawBytes >> 20) MiB stored versions over \(out.liveRawBytes >> 20) MiB live versions)",
            "worst stall \(fmt(Double(st.worstStallMicros) / 1000, 1)) ms, total \(fmt(Double(st.stallMicros) / 1e6, 2)) s",
            shapeLine(st),
        ]
        r.extra = [
            ("quiesce_seconds", .double(out.quiesceSeconds)), ("live_keys", .int(Int64(out.liveKeys))),
            ("write_amplification", .double(st.writeAmplification)), ("space_amplification_disk", .double(diskAmp)),
            ("space_amplification_raw", .double(rawAmp)), ("worst_stall_ms", .double(Double(st.worstStallMicros) / 1000)),
        ]
        if let limit = o.maxSpaceAmp, rawAmp > limit {
            ctx.failures.append("uncompressed space amplification \(fmt(rawAmp, 3)) exceeds --max-space-amp \(limit)")
        }
        return r
    }
}

struct WorkloadError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
