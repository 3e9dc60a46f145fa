import ArgumentParser
import Floe
import FloeS3
import FloeDataflow
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `floe pipeline run`: the seeds' views over a log, checkpointed every barrier.
struct PipelineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Run dataflow pipelines over a partitioned log.",
        subcommands: [PipelineRunCommand.self, PipelineBenchCommand.self])
}

struct PipelineRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the seeds' views over the log's orders and payments topics into a store.",
        discussion: """
            Resumes from the store's committed epoch and offsets: run it again after a crash (or a \
            kill) and the views end exactly as without one. Any --parallelism works on any run. \
            Without --until-end it runs until SIGINT or SIGTERM (the epochs committed stay). \
            With --print-commits it prints `committed E` as each epoch commits, and \
            `first-commit-ms N` (from process start) at the first.
            """)

    @Option(help: "Log directory with the orders (and payments) topics.") var log: String
    @Option(help: "Store directory.") var path: String
    @Option(help: "eo_order_revenue, eo_payment_match, eo_order_windows or all.") var query: String = "all"
    @Option(help: "Instances of each stateful operator.") var parallelism: Int = 1
    @Option(name: .customLong("barrier-interval-ms"), help: "Time between barriers (one epoch each).") var barrierIntervalMs: Int = 1000
    @Option(help: "SQLite database that receives every committed epoch of every view.") var sinkSqlite: String?
    @Option(help: "Directory that receives one file per view per committed epoch.") var sinkDir: String?
    @Option(help: "Rows per chunk between operators (smaller: slower, finer-grained epochs).") var chunkRows: Int = PipelineOptions().chunkRows
    @Option(help: "Chunks a channel between operators holds before its sender waits.") var channelCapacity: Int = PipelineOptions().channelCapacity
    @Flag(help: "Stop once everything the log held at start is consumed, committed and delivered.") var untilEnd = false
    @Option(help: "Stop after this many epochs.") var maxEpochs: Int?
    @Flag(help: "Print `committed E` for every committed epoch.") var printCommits = false
    @Option(help: "Write the run's report as JSON to this file.") var json: String?

    func run() async throws {
        let started = ContinuousClock.now
        let command = self
        try await Task.detached { try await command.execute(started: started) }.value
    }

    func execute(started: ContinuousClock.Instant) async throws {
        let names = try EoViews.names(query)
        let logDir = try PartitionedLog(directory: log, create: false)
        let store = try await StateStore.open(path: path)
        let b = PipelineBuilder()
        let orders = b.source(try await LogSource(log: logDir, topic: EoStreams.ordersTopic, schema: EoStreams.ordersSchema))
        let needsPayments = names.contains(EoViews.paymentMatch)
        let payments = needsPayments
            ? b.source(try await LogSource(log: logDir, topic: EoStreams.paymentsTopic, schema: EoStreams.paymentsSchema)) : nil
        try EoViews.add(names, to: b, orders: orders, payments: payments)
        var options = PipelineOptions()
        options.parallelism = parallelism
        options.barrierIntervalMillis = barrierIntervalMs
        options.chunkRows = chunkRows
        options.channelCapacity = channelCapacity
        options.untilEnd = untilEnd
        options.maxEpochs = maxEpochs
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
        guard let report = try await withStopSignals({ try await pipeline.run() }) else {
            Swift.print("stopped by a signal; committed epoch \(store.committedEpoch)")
            try await store.close()
            return
        }
        try await store.close()
        let rate = report.seconds > 0 ? Double(report.eventsIn) / report.seconds : 0
        Swift.print("""
            epochs \(report.startEpoch + 1)...\(report.endEpoch) committed, \(report.eventsIn) events in \(NumberText.fixed(report.seconds, digits: 2)) s \
            (\(NumberText.fixed(rate / 1000, digits: 1))k events/s)
            barrier to commit: p50 \(report.latencyQuantile(0.5).map { NumberText.fixed($0, digits: 1) } ?? "-") ms, \
            p99 \(report.latencyQuantile(0.99).map { NumberText.fixed($0, digits: 1) } ?? "-") ms
            deliveries to sinks: \(report.deliveries)
            """)
        if let json {
            let text = """
                {"query": "\(query)", "parallelism": \(parallelism), "barrier_interval_ms": \(barrierIntervalMs), \
                "events": \(report.eventsIn), "seconds": \(report.seconds), "events_per_second": \(rate), \
                "start_epoch": \(report.startEpoch), "end_epoch": \(report.endEpoch), \
                "p50_commit_ms": \(report.latencyQuantile(0.5) ?? -1), "p99_commit_ms": \(report.latencyQuantile(0.99) ?? -1), \
                "first_commit_seconds": \(report.firstCommitSeconds ?? -1)}

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

    func run() async throws {
        let command = self
        try await Task.detached {
            let store = try await StateStore.openReadOnly(url: command.path)
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
