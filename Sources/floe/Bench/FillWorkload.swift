import Floe

/// fillseq / fillrandom: keys `0..<count` in key order or in a fixed random
/// permutation, one put each, epochs of `epochKeys` puts, every epoch
/// checkpointed through an `EpochPipeline` while the next one is written.
struct FillWorkload {
    let db: StateStore
    let table: TableID
    let keys: BenchKeys
    let values: BenchValues
    let count: Int
    let sequential: Bool
    let epochKeys: Int
    /// Also end an epoch after this many milliseconds, if set.
    var epochMs: Int? = nil
    let pipelineDepth: Int

    struct Outcome {
        var seconds = 0.0
        var putLatency = LatencyHistogram()
        var commitLatency = LatencyHistogram()
        var epochs = 0
    }

    /// Writes and commits everything; `progress(done)` is called after each epoch is sealed.
    func run(progress: (Int) -> Void) async throws -> Outcome {
        var out = Outcome()
        var pipe = try EpochPipeline(db: db, depth: pipelineDepth)
        var lat = LatencyHistogram()
        out.seconds = try await Timer.measure {
            var i = 0
            while i < count {
                var end = min(count, i + epochKeys)
                let deadline = epochMs.map { ContinuousClock.now + .milliseconds($0) }
                while i < end {
                    // Epochs by time: look at the clock every 256 puts.
                    if let deadline, i & 255 == 0, i > 0, ContinuousClock.now >= deadline { end = i; break }
                    let key = keys.key(sequential ? i : keys.order(i)), value = values.value(i)
                    let t0 = Timer.nanos()
                    do {
                        try db.put(table, key: key, value: value, epoch: pipe.epoch)
                    } catch FloeError.memoryBudgetExceeded {
                        // What an application does: wait for the epochs in flight, or spill
                        // this one when it alone is larger than the budget, then retry.
                        try await db.waitForWriteBudget()
                        try db.put(table, key: key, value: value, epoch: pipe.epoch)
                    }
                    lat.record(since: t0)
                    i += 1
                }
                // The offset a streaming source would commit with its state.
                try await pipe.endEpoch(metadata: ["bench.offset": Array(String(end).utf8)])
                progress(end)
            }
            try await pipe.drain()
        }
        out.putLatency = lat
        out.commitLatency = pipe.commitLatency
        out.epochs = pipe.epochsCommitted
        return out
    }

    /// fillseq or fillrandom on the shared store, as a report row.
    static func benchmark(_ ctx: BenchContext, sequential: Bool) async throws -> BenchResult {
        let db = try await ctx.store()
        let o = ctx.options
        let name = sequential ? "fillseq" : "fillrandom"
        let before = db.statistics
        let bar = ProgressBar(name, total: o.num)
        let w = FillWorkload(db: db, table: ctx.table, keys: ctx.keys, values: ctx.values, count: o.num,
                             sequential: sequential, epochKeys: o.epochKeys, epochMs: o.epochMs, pipelineDepth: o.pipeline)
        let out = try await w.run { bar.set($0) }
        bar.finish()
        ctx.presence = .all
        let st = db.statistics
        var r = BenchResult(name: name, ops: o.num, seconds: out.seconds)
        r.bytes = o.num * (o.keySize + o.valueSize)
        r.latency = out.putLatency
        r.latencyOf = "put"
        r.details = [
            "\(out.epochs) epochs of \(o.epochMs.map { "up to \(o.epochKeys) keys or \($0) ms" } ?? "\(o.epochKeys) keys"), each checkpointed, \(o.pipeline) in flight; commit latency (seal to commit) \(out.commitLatency.summary)",
            compactionLine(before: before, after: st),
            shapeLine(st),
        ]
        r.extra = [
            ("epochs", .int(Int64(out.epochs))), ("commit_latency", out.commitLatency.json),
            ("compactions", .uint(st.compactions - before.compactions)), ("write_amplification", .double(st.writeAmplification)),
            ("worst_stall_ms", .double(Double(st.worstStallMicros) / 1000)),
        ]
        return r
    }
}

/// `compaction  N tasks, write amp W, worst stall S ms` over a phase.
func compactionLine(before: StoreStatistics, after st: StoreStatistics) -> String {
    "compaction \(st.compactions - before.compactions) tasks during the phase; write amp so far \(fmt(st.writeAmplification, 2)), worst stall \(fmt(Double(st.worstStallMicros) / 1000, 1)) ms, stalled \(fmt(Double(st.stallMicros - before.stallMicros) / 1e6, 2)) s"
}

/// `shape  L0 n sub-levels, levels [..] files, N MiB in M SSTs`.
func shapeLine(_ st: StoreStatistics) -> String {
    "shape: L0 \(st.l0SubLevels) sub-levels, levels \(st.levelFileCounts) files, \(st.sstCount) SSTs, \(NumberText.bytes(st.sstBytes))"
}
