import Floe

/// readwhilewriting: `--threads` readers share `--reads` gets of random existing
/// keys at the newest committed epoch, while one writer overwrites random keys
/// as fast as it can, epochs of `--epoch-keys` checkpointed through an
/// `EpochPipeline`, until the readers are done.
enum ReadWhileWritingWorkload {
    struct WriterOutcome: Sendable {
        var writes = 0
        var seconds = 0.0
        var epochs = 0
        var commitLatency = LatencyHistogram()
    }

    enum Outcome: Sendable {
        case reader(PointReadWorkload.Outcome)
        case writer(WriterOutcome)
    }

    static func benchmark(_ ctx: BenchContext) async throws -> BenchResult {
        let db = try await ctx.store()
        let o = ctx.options
        let readers = PointReadWorkload(db: db, table: ctx.table, keys: ctx.keys, pattern: .existing, threads: o.threads,
                                        reads: o.reads, seed: o.seed ^ 0x7277)
        let keys = ctx.keys, values = ctx.values, table = ctx.table
        let stop = StopFlag()
        let bar = ProgressBar("readwhilewriting", total: o.reads)
        let before = db.statistics
        var reads = PointReadWorkload.Outcome()
        var writer = WriterOutcome()
        let t0 = Timer.now()
        try await withThrowingTaskGroup(of: Outcome.self) { group in
            group.addTask {
                .writer(try await write(db: db, table: table, keys: keys, values: values, epochKeys: o.epochKeys,
                                        depth: o.pipeline, seed: o.seed ^ 0x7772, stop: stop))
            }
            group.addTask {
                // The readers' own task group: when it is done, so is the writer.
                defer { stop.raise() }
                return .reader(try await readers.run(epoch: db.committedEpoch, follow: true, progress: bar))
            }
            for try await outcome in group {
                switch outcome {
                case let .reader(r): reads = r
                case let .writer(w): writer = w
                }
            }
        }
        let seconds = Timer.now() - t0
        bar.finish()
        if ctx.presence == .none { ctx.presence = .unknown }
        if ctx.presence == .all, reads.found != reads.gets {
            throw WorkloadError("readwhilewriting: found \(reads.found) of \(reads.gets) keys, all should exist")
        }
        let st = db.statistics
        let writesPerSecond = Double(writer.writes) / max(writer.seconds, 1e-9)
        var r = BenchResult(name: "readwhilewriting", ops: reads.gets, seconds: reads.seconds)
        r.bytes = reads.found * (o.keySize + o.valueSize)
        r.latency = reads.latency
        r.latencyOf = "get"
        r.details = [
            "reads: \(grouped(reads.found)) of \(grouped(reads.gets)) found by \(o.threads) reader\(o.threads == 1 ? "" : "s") in \(fmt(reads.seconds, 2)) s, \(grouped(reads.retries)) retried after a commit; latency \(reads.latency.summary)",
            "writes: \(grouped(writer.writes)) in \(fmt(writer.seconds, 2)) s = \(grouped(writesPerSecond)) writes/s, \(writer.epochs) epochs; commit latency \(writer.commitLatency.summary)",
            compactionLine(before: before, after: st),
            cacheLine(before: before, after: st),
        ]
        r.extra = [
            ("found", .int(Int64(reads.found))), ("threads", .int(Int64(o.threads))),
            ("writes", .int(Int64(writer.writes))), ("writes_per_sec", .double(writesPerSecond)),
            ("epochs", .int(Int64(writer.epochs))), ("commit_latency", writer.commitLatency.json),
            ("wall_seconds", .double(seconds)),
        ]
        return r
    }

    /// Overwrites random keys of `0..<keys.count`, an epoch at a time, until `stop` is raised.
    private static func write(db: StateStore, table: TableID, keys: BenchKeys, values: BenchValues, epochKeys: Int,
                              depth: Int, seed: UInt64, stop: StopFlag) async throws -> WriterOutcome {
        var out = WriterOutcome()
        var rng = SplitMix64(seed: seed)
        var pipe = try EpochPipeline(db: db, depth: depth)
        let n = UInt64(keys.count)
        out.seconds = try await Timer.measure {
            while !stop.isRaised {
                for _ in 0..<epochKeys {
                    let k = Int(rng.next() % n)
                    try db.put(table, key: keys.key(k), value: values.value(k &+ out.writes), epoch: pipe.epoch)
                    out.writes += 1
                }
                try await pipe.endEpoch()
            }
            try await pipe.drain()
        }
        out.epochs = pipe.epochsCommitted
        out.commitLatency = pipe.commitLatency
        return out
    }
}
