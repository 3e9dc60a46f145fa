import ArgumentParser
import Floe
import FloeS3
import FloeDataflow
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `floe pipeline run`: the seeds' views or Nexmark queries over a log, checkpointed every barrier.
struct PipelineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Run dataflow pipelines over a partitioned log.",
        subcommands: [PipelineRunCommand.self, PipelineBenchCommand.self, PipelineLineageCommand.self, PipelineVerifyCommand.self])
}

struct PipelineRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the seeds' views or Nexmark queries over a log's topics into a store.",
        discussion: """
            Resumes from the store's committed epoch and offsets: run it again after a crash (or a \
            kill) and the views end exactly as without one. Any --parallelism works on any run. \
            Without --until-end it runs until SIGINT or SIGTERM: the epoch in progress then ends at a \
            barrier injected at once, commits and reaches the sinks, and the run prints its report (a \
            second signal kills it; the epochs committed stay). The seeds' views read the log's orders \
            and payments topics; the Nexmark queries (q0 ... q9, or nexmark for all) read person, \
            auction and bid (floe log generate --stream person|auction|bid, then floe log load). \
            With --print-commits it prints `committed E` as each epoch commits, and \
            `first-commit-ms N` (from process start) at the first. With --lateness-ms, each partition \
            of orders (timed by event_time) and payments (paid_at) drops a row whose time is more than \
            MS behind the largest time before it, counts it as late, and eo_order_windows cleans the \
            state of closed windows; so do person, auction and bid (timed by date_time) for the \
            Nexmark queries, and q5, q7 and q8 clean their windows' aggregation and join state \
            (docs/nexmark.md). The lateness is part of the pipeline (a store written with another \
            one is refused).
            """)

    @Option(help: "Log directory with the topics the query reads (orders and payments; person, auction and bid).") var log: String
    @Option(help: "Store directory or URL (s3://bucket/prefix?..., docs/s3.md).") var path: String
    @Option(help: "Comma-separated views: eo_order_revenue, eo_payment_match, eo_order_windows or all (the three); q0 ... q9 or nexmark (all nine).")
    var query: String = "all"
    @Option(help: "Instances of each stateful operator.") var parallelism: Int = 1
    @Option(name: .customLong("barrier-interval-ms"), help: "Time between barriers (one epoch each).") var barrierIntervalMs: Int = 1000
    @Option(help: "SQLite database that receives every committed epoch of every view.") var sinkSqlite: String?
    @Option(help: "Directory that receives one file per view per committed epoch.") var sinkDir: String?
    @Option(help: "Rows per chunk between operators (smaller: slower, finer-grained epochs).") var chunkRows: Int = PipelineOptions().chunkRows
    @Option(help: "Chunks a channel between operators holds before its sender waits.") var channelCapacity: Int = PipelineOptions().channelCapacity
    @Flag(help: "Stop once everything the log held at start is consumed, committed and delivered.") var untilEnd = false
    @Option(help: "Stop after this many epochs.") var maxEpochs: Int?
    @Option(help: ArgumentHelp("Allowed lateness of event times: later rows are dropped and counted, closed windows cleaned (default: off).",
                               valueName: "ms"))
    var latenessMs: Int?
    @Flag(help: "Print `committed E` for every committed epoch.") var printCommits = false
    @Option(help: "Write the run's report as JSON to this file.") var json: String?
    @OptionGroup var logging: LogLevelOption
    @OptionGroup var metrics: MetricsOptions

    func validate() throws {
        guard (0...86_400_000).contains(latenessMs ?? 0) else { throw ValidationError("--lateness-ms must be in 0...86400000") }
        do { _ = try PipelineQuery.parse(query) } catch { throw ValidationError("--query: \(error)") }
    }

    func run() async throws {
        let started = ContinuousClock.now
        let command = self
        // Logging and metrics first: the store takes `MetricsSystem.factory` when it opens.
        logging.install()
        let endpoint = try await metrics.start(logger: CLILogging.logger)
        do {
            try await Task.detached { try await command.execute(started: started, endpoint: endpoint) }.value
        } catch {
            await endpoint?.stop()
            throw error
        }
    }

    func execute(started: ContinuousClock.Instant, endpoint: MetricsEndpoint?) async throws {
        let b = try await PipelineQuery.builder(log: log, query: query, latenessMs: latenessMs)
        let store = try await StateStore.open(url: path, options: CLILogging.storeOptions())
        var options = PipelineOptions()
        options.parallelism = parallelism
        options.barrierIntervalMillis = barrierIntervalMs
        options.chunkRows = chunkRows
        options.channelCapacity = channelCapacity
        options.untilEnd = untilEnd
        options.maxEpochs = maxEpochs
        options.logger = CLILogging.logger
        let views = try Pipeline(store: store, builder: b, options: options).views
        let schemas = Dictionary(uniqueKeysWithValues: views.map { ($0.name, $0.schema) })
        if let sinkSqlite { options.sinks.append(try SQLiteSink(path: sinkSqlite, views: schemas)) }
        if let sinkDir { options.sinks.append(try FileSink(directory: sinkDir, views: schemas)) }
        let first = Atomic<Bool>(true)
        let print = printCommits
        options.onCommit = { epoch in
            guard print else { return }
            if first.exchange(false, ordering: .relaxed) {
                CrashtestWorkerCommand.emit("first-commit-ms \(millis(ContinuousClock.now - started))")
            }
            CrashtestWorkerCommand.emit("committed \(epoch)")
        }
        let pipeline = try Pipeline(store: store, builder: b, options: options)
        // The pipeline, SIGINT/SIGTERM and the metrics endpoint in one ServiceGroup: a
        // signal shuts the group down gracefully, so the running epoch ends at a barrier,
        // commits and reaches the sinks; a second signal kills the process.
        let finished = Lock<PipelineReport?>(nil)
        let service = PipelineService(pipeline: pipeline) { r in finished.withLock { $0 = r } }
        let signals = StopSignalService()
        let background: [any Service] = endpoint.map { [$0] } ?? []
        do {
            try await signals.group(main: service, background: background, logger: CLILogging.logger).run()
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
        guard let report = finished.withLock({ $0 }) else { throw EotestError("the pipeline ended without a report") }
        if signals.signal != 0 { Swift.print("stopped by a signal; committed epoch \(store.committedEpoch)") }
        let rate = report.seconds > 0 ? Double(report.eventsIn) / report.seconds : 0
        Swift.print("""
            epochs \(report.startEpoch + 1)...\(report.endEpoch) committed, \(report.eventsIn) events in \(NumberText.fixed(report.seconds, digits: 2)) s \
            (\(NumberText.fixed(rate / 1000, digits: 1))k events/s)
            barrier to commit: p50 \(report.latencyQuantile(0.5).map { NumberText.fixed($0, digits: 1) } ?? "-") ms, \
            p99 \(report.latencyQuantile(0.99).map { NumberText.fixed($0, digits: 1) } ?? "-") ms
            deliveries to sinks: \(report.deliveries)
            """)
        if latenessMs != nil {
            Swift.print("late rows dropped: " + report.lateRows.keys.sorted().map { "\($0) \(report.lateRows[$0]!)" }.joined(separator: ", "))
        }
        if let json {
            let text = """
                {"query": "\(self.query)", "parallelism": \(parallelism), "barrier_interval_ms": \(barrierIntervalMs), \
                "events": \(report.eventsIn), "seconds": \(report.seconds), "events_per_second": \(rate), \
                "start_epoch": \(report.startEpoch), "end_epoch": \(report.endEpoch), \
                "p50_commit_ms": \(report.latencyQuantile(0.5) ?? -1), "p99_commit_ms": \(report.latencyQuantile(0.99) ?? -1), \
                "first_commit_seconds": \(report.firstCommitSeconds ?? -1), "late_rows": \(report.totalLateRows)}

                """
            try FileBytes.save(Array(text.utf8), to: json)
        }
    }
}

/// Whole milliseconds of a duration.
func millis(_ d: Duration) -> Int64 { d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000 }

/// `floe view dump`: a view as CSV, from the store alone.
struct ViewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "view",
        abstract: "Read materialized views from a store.",
        subcommands: [ViewDumpCommand.self, ViewListCommand.self])
}

struct ViewDumpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print a view as CSV (header, then the rows sorted) at the committed or a given epoch.")

    @Option(help: "Store directory or URL (s3://bucket/prefix?..., docs/s3.md).") var path: String
    @Argument(help: "The view's name.") var view: String
    @Option(help: "Epoch to read (default: the committed epoch; older ones only while retained).") var epoch: UInt64?
    @Option(help: "Read the named checkpoint NAME (floe checkpoint create) instead of the committed version.") var checkpoint: String?

    func run() async throws {
        let command = self
        try await Task.detached {
            let store = if let name = command.checkpoint {
                try await StateStore.openReadOnly(url: command.path, checkpoint: name)
            } else {
                try await StateStore.openReadOnly(url: command.path)
            }
            let text = try await ViewReader(store: store, view: command.view).csv(at: command.epoch)
            try await store.close()
            print(text, terminator: "")
        }.value
    }
}

struct ViewListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the views a store holds, with their columns.")

    @Option(help: "Store directory or URL (s3://bucket/prefix?..., docs/s3.md).") var path: String

    func run() async throws {
        let command = self
        try await Task.detached {
            let store = try await StateStore.openReadOnly(url: command.path)
            print("committed epoch \(store.committedEpoch)")
            for name in PipelineMetadata.views(in: store.committedMetadata) {
                let v = try ViewReader(store: store, view: name)
                print("\(name): \(v.schema)")
            }
            try await store.close()
        }.value
    }
}
