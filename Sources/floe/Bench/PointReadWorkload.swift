import Floe
#if canImport(Glibc)
import Glibc
#endif

/// readrandom, readmissing, readhot (and the readers of readwhilewriting):
/// `--threads` reader tasks share `--reads` gets, each timing every get into
/// its own latency histogram.
struct PointReadWorkload: Sendable {
    /// Which keys the gets ask for.
    enum Pattern: Sendable {
        /// Uniform over the `num` written keys.
        case existing
        /// Keys that sort among the written ones but were never written.
        case missing
        /// Uniform over the first 1% of the keys in key order (as db_bench's readhot).
        case hot
    }

    let db: StateStore
    let table: TableID
    let keys: BenchKeys
    let pattern: Pattern
    let threads: Int
    let reads: Int
    let seed: UInt64

    struct Outcome: Sendable {
        var gets = 0
        var found = 0
        /// Gets retried because a commit moved the readable epoch past the one asked for.
        var retries = 0
        var seconds = 0.0
        var latency = LatencyHistogram()

        mutating func merge(_ o: Outcome) {
            gets += o.gets
            found += o.found
            retries += o.retries
            latency.merge(o.latency)
        }
    }

    /// Runs the readers at `epoch`; with `follow`, at the newest committed epoch
    /// instead (a get whose epoch a commit retired is retried at the new one).
    func run(epoch: Epoch, follow: Bool, progress: ProgressBar) async throws -> Outcome {
        var total = Outcome()
        total.seconds = try await Timer.measure {
            total.merge(try await withThrowingTaskGroup(of: Outcome.self) { group in
                for t in 0..<threads {
                    let share = reads / threads + (t < reads % threads ? 1 : 0)
                    group.addTask { try await readLoop(count: share, reader: t, epoch: epoch, follow: follow, progress: progress) }
                }
                var all = Outcome()
                for try await o in group { all.merge(o) }
                return all
            })
        }
        return total
    }

    private func readLoop(count: Int, reader: Int, epoch start: Epoch, follow: Bool, progress: ProgressBar) async throws -> Outcome {
        var rng = SplitMix64(seed: seed ^ (0xabc &+ UInt64(reader) &* 0x9E37_79B9))
        var out = Outcome()
        var epoch = start
        let yields = threads >= processorCount()
        let n = UInt64(keys.count), hot = UInt64(max(1, keys.count / 100))
        for i in 0..<count {
            let key: [UInt8]
            switch pattern {
            case .existing: key = keys.key(Int(rng.next() % n))
            case .missing: key = keys.missingKey(Int(rng.next() % n))
            case .hot: key = keys.key(Int(rng.next() % hot))
            }
            let t0 = Timer.nanos()
            var value: [UInt8]?
            while true {
                do {
                    value = try await db.get(table, key: key, epoch: epoch)
                    break
                } catch FloeError.epochNotRetained where follow {
                    epoch = db.committedEpoch
                    out.retries += 1
                }
            }
            out.latency.record(since: t0)
            if value != nil { out.found += 1 }
            if i & 1023 == 1023 {
                progress.advance(1024)
                // Beside a writer, when the readers alone fill the cooperative pool's
                // threads (one per core), let the writer and compaction run now and then.
                if follow && yields {
                    try Task.checkCancellation()
                    await Task.yield()
                }
            }
        }
        out.gets = count
        return out
    }

    /// readrandom, readmissing or readhot on the shared store, as a report row.
    static func benchmark(_ ctx: BenchContext, _ name: BenchmarkName) async throws -> BenchResult {
        let db = try await ctx.store()
        let o = ctx.options
        let pattern: Pattern = name == .readmissing ? .missing : name == .readhot ? .hot : .existing
        let w = PointReadWorkload(db: db, table: ctx.table, keys: ctx.keys, pattern: pattern, threads: o.threads,
                                  reads: o.reads, seed: o.seed ^ UInt64(name.rawValue.utf8.count))
        let bar = ProgressBar(name.rawValue, total: o.reads)
        let before = db.statistics
        let out = try await w.run(epoch: db.committedEpoch, follow: false, progress: bar)
        bar.finish()
        let after = db.statistics
        switch (pattern, ctx.presence) {
        case (.missing, _):
            guard out.found == 0 else { throw WorkloadError("\(name): \(out.found) of \(out.gets) keys that were never written were found") }
        case (_, .all):
            guard out.found == out.gets else { throw WorkloadError("\(name): found \(out.found) of \(out.gets) keys, all should exist") }
        default: break
        }
        var r = BenchResult(name: name.rawValue, ops: out.gets, seconds: out.seconds)
        r.bytes = pattern == .missing ? nil : out.found * (o.keySize + o.valueSize)
        r.latency = out.latency
        r.latencyOf = "get"
        let hot = pattern == .hot ? " among the \(grouped(max(1, o.num / 100))) hot keys" : ""
        r.details = [
            "\(grouped(out.found)) of \(grouped(out.gets)) found\(hot), \(o.threads) reader\(o.threads == 1 ? "" : "s"); latency \(out.latency.summary)",
            cacheLine(before: before, after: after),
        ]
        r.extra = [("found", .int(Int64(out.found))), ("threads", .int(Int64(o.threads)))]
        return r
    }
}

/// Cores online (the width of the cooperative thread pool).
func processorCount() -> Int {
    max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
}

/// Block cache hit rate over a phase.
func cacheLine(before: StoreStatistics, after: StoreStatistics) -> String {
    let hits = after.blockCacheHits - before.blockCacheHits, misses = after.blockCacheMisses - before.blockCacheMisses
    let rate = hits + misses == 0 ? 0 : Double(hits) * 100 / Double(hits + misses)
    return "block cache: \(grouped(hits)) hits, \(grouped(misses)) misses (\(fmt(rate, 1))% hits), \(NumberText.bytes(after.blockCacheBytes)) cached"
}
