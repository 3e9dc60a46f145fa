import Floe

/// checkpoint: epoch commit latency under a steady ingest rate. One writer puts
/// `--num` random keys of `0..<num` at `--rate` keys/s (it writes a
/// millisecond's worth of keys, then sleeps until they are due), seals an epoch
/// every `--epoch-keys` keys and syncs and commits it in the background
/// (`EpochPipeline`). Reports the latency from seal to the return of commit.
enum CheckpointLatencyWorkload {
    static func benchmark(_ ctx: BenchContext) async throws -> BenchResult {
        let db = try await ctx.store()
        let o = ctx.options
        let bar = ProgressBar("checkpoint", total: o.num)
        let before = db.statistics
        var rng = SplitMix64(seed: o.seed ^ 0xc4e)
        var pipe = try EpochPipeline(db: db, depth: o.pipeline)
        let n = UInt64(o.num)
        let chunk = max(1, min(o.epochKeys, o.rate / 1000))
        let clock = ContinuousClock()
        var written = 0
        var worstLagNanos: Int64 = 0
        let start = clock.now
        let seconds = try await Timer.measure {
            while written < o.num {
                let epochEnd = min(o.num, written + o.epochKeys)
                while written < epochEnd {
                    let chunkEnd = min(epochEnd, written + chunk)
                    while written < chunkEnd {
                        let k = Int(rng.next() % n)
                        try db.put(ctx.table, key: ctx.keys.key(k), value: ctx.values.value(k &+ written), epoch: pipe.epoch)
                        written += 1
                    }
                    // Pace: the next key is due at start + written / rate.
                    let due = start + .nanoseconds(Int64(Double(written) / Double(o.rate) * 1e9))
                    let now = clock.now
                    if due > now {
                        try await Task.sleep(until: due, clock: clock)
                    } else {
                        worstLagNanos = max(worstLagNanos, nanoseconds(now - due))
                    }
                }
                try await pipe.endEpoch()
                bar.set(written)
            }
            try await pipe.drain()
        }
        bar.finish()
        if ctx.presence == .none { ctx.presence = .unknown }
        let st = db.statistics
        let lat = pipe.commitLatency
        var r = BenchResult(name: "checkpoint", ops: o.num, seconds: seconds)
        r.bytes = o.num * (o.keySize + o.valueSize)
        r.latency = lat
        r.latencyOf = "commit"
        let achieved = Double(o.num) / seconds
        r.details = [
            "\(pipe.epochsCommitted) epochs of \(o.epochKeys) keys at \(grouped(o.rate)) keys/s target (\(grouped(achieved)) achieved, writer at most \(durationText(nanos: Double(worstLagNanos))) behind), \(o.pipeline) in flight",
            "commit latency, seal to commit return: \(lat.summary)",
            compactionLine(before: before, after: st),
            shapeLine(st),
        ]
        r.extra = [
            ("target_rate", .int(Int64(o.rate))), ("achieved_rate", .double(achieved)), ("epochs", .int(Int64(pipe.epochsCommitted))),
            ("worst_writer_lag_ms", .double(Double(worstLagNanos) / 1e6)),
            ("worst_stall_ms", .double(Double(st.worstStallMicros) / 1000)),
        ]
        return r
    }

    private static func nanoseconds(_ d: Duration) -> Int64 {
        let (s, atto) = d.components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }
}
