import ArgumentParser
import Floe

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

    func run() async throws {
        // Run off the main actor: otherwise every store call from the loops hops executors twice.
        let command = self
        try await Task.detached { try await command.execute() }.value
    }

    func execute() async throws {
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
        func record(_ r: BenchResult) {
            print(r.name + ":")
            for line in r.details { print("  " + line) }
            report.results.append(r)
        }
        for b in list {
            switch b {
            case .fillseq, .fillrandom: record(try await FillWorkload.benchmark(ctx, sequential: b == .fillseq))
            case .overwrite: record(try await OverwriteWorkload.benchmark(ctx))
            case .readrandom, .readmissing, .readhot: record(try await PointReadWorkload.benchmark(ctx, b))
            case .seekrandom: record(try await SeekRandomWorkload.benchmark(ctx))
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
