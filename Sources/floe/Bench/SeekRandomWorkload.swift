import Floe

/// seekrandom: `--threads` reader tasks share `--seeks` short scans, each
/// starting at a random existing key and reading `--scan-keys` rows (fewer near
/// the end of the table). Each scan is timed from the call to `scan` to its last row.
/// seekreverse (`reverse`): the same seeks, each reading `--scan-keys` rows backwards
/// from the key (it included) with `scanReverse(limit:)` (fewer near the start).
struct SeekRandomWorkload: Sendable {
    let db: StateStore
    let table: TableID
    let keys: BenchKeys
    let threads: Int
    let seeks: Int
    let scanKeys: Int
    let seed: UInt64
    var reverse = false

    struct Outcome: Sendable {
        var seeks = 0
        var rows = 0
        /// Rows a full table (every key of `0..<num`) would have returned.
        var expectedRows = 0
        var seconds = 0.0
        var latency = LatencyHistogram()

        mutating func merge(_ o: Outcome) {
            seeks += o.seeks
            rows += o.rows
            expectedRows += o.expectedRows
            latency.merge(o.latency)
        }
    }

    func run(epoch: Epoch, progress: ProgressBar) async throws -> Outcome {
        var total = Outcome()
        total.seconds = try await Timer.measure {
            total.merge(try await withThrowingTaskGroup(of: Outcome.self) { group in
                for t in 0..<threads {
                    let share = seeks / threads + (t < seeks % threads ? 1 : 0)
                    group.addTask { try await seekLoop(count: share, reader: t, epoch: epoch, progress: progress) }
                }
                var all = Outcome()
                for try await o in group { all.merge(o) }
                return all
            })
        }
        return total
    }

    private func seekLoop(count: Int, reader: Int, epoch: Epoch, progress: ProgressBar) async throws -> Outcome {
        var rng = SplitMix64(seed: seed ^ (0x5eec &+ UInt64(reader) &* 0x9E37_79B9))
        var out = Outcome()
        let n = UInt64(keys.count)
        for i in 0..<count {
            let start = Int(rng.next() % n)
            let t0 = Timer.nanos()
            var rows = 0
            if reverse {
                // Up to the key itself: its immediate successor is the exclusive bound.
                rows = try await db.scanReverse(table, from: nil, to: keys.key(start) + [0], epoch: epoch, limit: scanKeys).count
            } else {
                try await db.scan(table, from: keys.key(start), to: nil, epoch: epoch).forEachRow { _, _ in
                    rows += 1
                    return rows < scanKeys
                }
            }
            out.latency.record(since: t0)
            out.rows += rows
            out.expectedRows += reverse ? min(scanKeys, start + 1) : min(scanKeys, keys.count - start)
            if i & 255 == 255 { progress.advance(256) }
        }
        out.seeks = count
        return out
    }

    /// seekrandom (seekreverse when `reverse`) on the shared store, as a report row.
    static func benchmark(_ ctx: BenchContext, reverse: Bool = false) async throws -> BenchResult {
        let name = reverse ? "seekreverse" : "seekrandom"
        let db = try await ctx.store()
        let o = ctx.options
        let w = SeekRandomWorkload(db: db, table: ctx.table, keys: ctx.keys, threads: o.threads, seeks: o.seekCount,
                                   scanKeys: o.scanKeys, seed: o.seed, reverse: reverse)
        let bar = ProgressBar(name, total: o.seekCount)
        let before = db.statistics
        let out = try await w.run(epoch: db.committedEpoch, progress: bar)
        bar.finish()
        if ctx.exactKeySet, out.rows != out.expectedRows {
            throw WorkloadError("\(name): scans returned \(out.rows) rows, expected \(out.expectedRows)")
        }
        var r = BenchResult(name: name, ops: out.seeks, seconds: out.seconds)
        r.bytes = out.rows * (o.keySize + o.valueSize)
        r.latency = out.latency
        r.latencyOf = "scan"
        r.details = [
            "\(grouped(out.seeks)) scans of up to \(o.scanKeys) rows: \(grouped(out.rows)) rows, \(grouped(Double(out.rows) / out.seconds)) rows/s, \(o.threads) reader\(o.threads == 1 ? "" : "s"); latency \(out.latency.summary)",
            cacheLine(before: before, after: db.statistics),
        ]
        r.extra = [("rows", .int(Int64(out.rows))), ("rows_per_sec", .double(Double(out.rows) / out.seconds)), ("threads", .int(Int64(o.threads)))]
        return r
    }
}
