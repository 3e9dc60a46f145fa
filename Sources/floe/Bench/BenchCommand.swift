import ArgumentParser
import Floe
import FloeTesting

/// `floe bench`: a db_bench-like harness. Runs the benchmarks named by
/// `--benchmarks` in order on one shared store, prints what each measured as it
/// finishes, then an aligned table (and `--json FILE` for machines).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure fills, reads, scans, checkpoint latency and recovery on a store.",
        discussion: """
            Benchmarks (--benchmarks a,b,c runs them in order on one shared store, like db_bench):

            \(BenchmarkName.helpText)

            Without --benchmarks: fillrandom,compact,scanall,readrandom,readmissing,reopen
            (compact left out under --no-compaction). Latency percentiles come from HdrHistogram.
            """)

    @OptionGroup var options: BenchOptions
    @OptionGroup var logging: LogLevelOption
    @OptionGroup var metrics: MetricsOptions

    func run() async throws {
        // Run off the main actor: otherwise every store call from the loops hops executors twice.
        let command = self
        try await Task.detached { try await command.execute() }.value
    }

    func execute() async throws {
        let logger = logging.install()
        let endpoint = try await metrics.start(logger: logger)
        do {
            try await runBenchmarks()
        } catch {
            await endpoint?.stop()
            throw error
        }
        await endpoint?.stop()
    }

    func runBenchmarks() async throws {
        let o = options
        let list = try o.benchmarkList()
        // Fail on an unwritable --json file now, not after a long run.
        if let file = o.json { try FileBytes.save([], to: file) }
        let ctx = BenchContext(options: o)
        if list.contains(where: { $0 != .recovery && $0 != .prefixjoin }) { _ = try await ctx.store() }
        let compression = o.compression ?? "lz4 (zstd from L5)"
        print("floe bench: \(grouped(o.num)) keys (\(o.keySize) B + \(o.valueSize) B), epochs of \(grouped(o.epochKeys)), \(compression), store \(ctx.storeDescription)")
        print("benchmarks: \(list.map(\.rawValue).joined(separator: ","))")

        var report = BenchReport()
        var requestsBefore = ctx.simulated?.statistics
        func record(_ r: BenchResult) {
            var r = r
            if let before = requestsBefore, let now = ctx.simulated?.statistics {
                r.details.append(requestLine(before: before, after: now, ops: r.ops))
                requestsBefore = now
            }
            print(r.name + ":")
            for line in r.details { print("  " + line) }
            report.results.append(r)
        }
        for b in list {
            requestsBefore = ctx.simulated?.statistics
            switch b {
            case .fillseq, .fillrandom: record(try await FillWorkload.benchmark(ctx, sequential: b == .fillseq))
            case .overwrite: record(try await OverwriteWorkload.benchmark(ctx))
            case .readrandom, .readmissing, .readhot: record(try await PointReadWorkload.benchmark(ctx, b))
            case .seekrandom: record(try await SeekRandomWorkload.benchmark(ctx))
            case .seekreverse: record(try await SeekRandomWorkload.benchmark(ctx, reverse: true))
            case .scanall: record(try await ScanAllWorkload.benchmark(ctx))
            case .readwhilewriting: record(try await ReadWhileWritingWorkload.benchmark(ctx))
            case .checkpoint: record(try await CheckpointLatencyWorkload.benchmark(ctx))
            case .recovery: try await RecoveryWorkload.benchmark(ctx, onResult: record)
            case .compact: record(try await CompactWorkload.benchmark(ctx))
            case .reopen: record(try await ReopenWorkload.benchmark(ctx))
            case .prefixjoin: try await PrefixJoinWorkload.benchmark(ctx, onResult: record)
            }
        }
        try await ctx.finish()

        print("")
        print(report.table())
        if let file = o.json {
            let doc = report.json(config: o.json(benchmarks: list, storeDescription: ctx.storeDescription))
            try FileBytes.save(Array((doc.render() + "\n").utf8), to: file)
            print("results written to \(file)")
        }
        if !ctx.failures.isEmpty { throw ValidationError(ctx.failures.joined(separator: "; ")) }
    }
}

/// `--store s3sim`: the requests a benchmark made, per operation and per op of the benchmark.
func requestLine(before: LatencyModelObjectStore.Statistics, after: LatencyModelObjectStore.Statistics, ops: Int) -> String {
    let names: [(ObjectOperation, String)] = [(.get, "GET"), (.size, "HEAD"), (.put, "PUT"), (.createIfAbsent, "conditional PUT"),
                                             (.delete, "DELETE"), (.list, "LIST")]
    var parts: [String] = []
    for (op, name) in names {
        let n = after[op] - before[op]
        guard n > 0 else { continue }
        let per = ops > 0 ? " (\(fmt(Double(n) / Double(ops), 3)) per op)" : ""
        parts.append("\(grouped(n)) \(name)\(per)")
    }
    let read = after.bytesRead - before.bytesRead, written = after.bytesWritten - before.bytesWritten
    return "object store requests: \(parts.isEmpty ? "none" : parts.joined(separator: ", ")); "
        + "\(fmt(Double(read) / 1e6, 1)) MB read, \(fmt(Double(written) / 1e6, 1)) MB written"
}
