import ArgumentParser
import Floe
import FloeDataflow
#if canImport(Glibc)
import Glibc
#endif

/// `floe demo`: the exactly-once proof in small (the README's first command).
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Kill and recover the seeds' three streaming views, and check them against a failure-free run.",
        subcommands: [EoDemoCommand.self, StoreDemoCommand.self],
        defaultSubcommand: EoDemoCommand.self)
}

struct EoDemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eo",
        abstract: "Generate orders and payments, run the three views failure-free and again under kills, compare.",
        discussion: """
            The killed run is `floe pipeline run --until-end` as a child process, killed --kills times: \
            with SIGKILL while data flows, by a store failpoint that crashes inside a commit (after the \
            manifest delta landed), and with SIGKILL during recovery (milliseconds after a restart), in \
            turn; each restart takes another parallelism. Then one run goes to the end. Every view \
            (dumped from the store) and the SQLite sink must equal the failure-free run; the exit \
            status is 1 if not.
            """)

    @Option(help: "Orders and payments to generate (each).") var events: Int = 200_000
    @Option(help: "Kills before the final run.") var kills: Int = 4
    @Option(help: "Random seed of the streams and the kill moments.") var seed: UInt64 = 42
    @Option(help: "Working directory (default: a fresh one under /tmp, removed afterwards).") var path: String?

    func validate() throws {
        guard events > 0, kills >= 0 else { throw ValidationError("--events must be positive and --kills not negative") }
    }

    func run() async throws {
        let command = self
        try await Task.detached { try await command.execute() }.value
    }

    func execute() async throws {
        let dir = try path ?? makeTempDir(prefix: "floe-demo")
        var rng = SplitMix64(seed: seed)
        print("floe demo: the seeds' views, exactly once under kills (working directory \(dir))")

        // The input: both streams in a log of 4 partitions.
        let logDir = dir + "/log"
        let log = try PartitionedLog(directory: logDir)
        for (stream, topic) in [(EoStreams.Stream.orders, EoStreams.ordersTopic), (.payments, EoStreams.paymentsTopic)] {
            let csv = EoGenerator(stream: stream, seed: seed).csv(events: 0..<UInt64(events))
            try await CsvLoader.load(csv: csv, file: "\(topic).csv", into: log, topic: topic, partitions: 4)
        }
        print("input   \(events) orders and \(events) payments in \(logDir), 4 partitions each")

        // The failure-free reference, in this process.
        let reference = try await referenceRun(dir: dir + "/reference", log: log)

        // The killed run: a child process, killed again and again, then run to the end.
        let store = dir + "/killed", sink = dir + "/killed.db"
        let exe = ChildProcess.currentExecutable()
        var recoveries: [Int] = []
        for run in 0...kills {
            let parallelism = [2, 3, 1, 4][run % 4]
            var env: [String: String] = [:]
            let kind = run == kills ? "to the end" : ["SIGKILL while data flows", "crash inside a commit", "SIGKILL during recovery"][run % 3]
            if kind == "crash inside a commit" { env["FLOE_FAILPOINTS"] = "commit.after_manifest=crash@\(rng.next() % 3)" }
            let child = try ChildProcess(executable: exe, arguments: [
                "pipeline", "run", "--log", logDir, "--path", store, "--query", "all", "--until-end", "--print-commits",
                "--barrier-interval-ms", "20", "--parallelism", "\(parallelism)", "--sink-sqlite", sink,
            ], environment: env, outputFiles: nil)
            var commits = 0, first: Int?
            if kind == "SIGKILL during recovery" {
                usleep(UInt32(5_000 + rng.next() % 40_000))
                _ = child.killAndWait()
            } else {
                let wanted = 1 + Int(rng.next() % 3)
                while let line = try child.readLine() {
                    if line.hasPrefix("first-commit-ms ") { first = Int(line.dropFirst(16)) }
                    if line.hasPrefix("committed ") { commits += 1 }
                    if kind == "SIGKILL while data flows" && commits >= wanted {
                        usleep(UInt32(rng.next() % 30_000))
                        break
                    }
                }
            }
            let end = kind == "to the end" ? child.waitForExit() : child.killAndWait()
            if let first, run > 0 { recoveries.append(first) }
            print("run \(run + 1)   parallelism \(parallelism), \(kind): \(commits) epochs committed, ended \(end)"
                  + (first.map { ", first commit \($0) ms after start" } ?? ""))
            if kind == "to the end" && end != .exited(0) { throw ValidationError("the final run failed: \(end)") }
        }

        // Compare every view, from the store and from the sink.
        let killed = try await StateStore.openReadOnly(path: store)
        let db = try SQLiteSink(path: sink, views: reference.schemas)
        var equal = true
        for name in EoViews.all {
            let rows = try await ViewReader(store: killed, view: name).sortedRows()
            let sinkRows = SinkRowOrder.sorted(try db.rows(view: name))
            let same = rows == reference.rows[name]!, sinkSame = sinkRows == SinkRowOrder.sorted(reference.rows[name]!)
            equal = equal && same && sinkSame
            print("view    \(name): \(rows.count) rows; store \(same ? "equal" : "DIFFERENT"), SQLite sink \(sinkSame ? "equal" : "DIFFERENT")")
        }
        try await killed.close()
        print("\neo_order_revenue after \(kills) kills:")
        print(try await ViewReader.csvFromReadOnly(path: store, view: EoViews.revenue), terminator: "")
        print("\neo_order_windows, first rows:")
        for line in try await ViewReader.csvFromReadOnly(path: store, view: EoViews.windows).split(separator: "\n").prefix(6) { print(line) }
        if !recoveries.isEmpty {
            let s = recoveries.sorted()
            print("\nrecovery (process start to first new committed epoch): median \(s[s.count / 2]) ms, max \(s.last!) ms over \(s.count) restarts")
        }
        if path == nil { _ = try? removeTree(dir) }
        guard equal else { throw ValidationError("a view or the sink differs from the failure-free run") }
        print("OK: every view and the SQLite sink equal the failure-free run byte for byte")
    }

    struct Reference {
        var rows: [String: [[String]]]
        var schemas: [String: Schema]
    }

    func referenceRun(dir: String, log: PartitionedLog) async throws -> Reference {
        let store = try await StateStore.open(path: dir)
        let b = PipelineBuilder()
        let orders = b.source(try await LogSource(log: log, topic: EoStreams.ordersTopic, schema: EoStreams.ordersSchema))
        let payments = b.source(try await LogSource(log: log, topic: EoStreams.paymentsTopic, schema: EoStreams.paymentsSchema))
        try EoViews.add(EoViews.all, to: b, orders: orders, payments: payments)
        var options = PipelineOptions()
        options.untilEnd = true
        options.barrierIntervalMillis = 50
        options.parallelism = 2
        let pipeline = try Pipeline(store: store, builder: b, options: options)
        let report = try await pipeline.run()
        var out = Reference(rows: [:], schemas: [:])
        for v in pipeline.views {
            out.rows[v.name] = try await ViewReader(store: store, view: v.name).sortedRows()
            out.schemas[v.name] = v.schema
        }
        try await store.close()
        print("run 0   failure-free reference: \(report.endEpoch) epochs, \(report.eventsIn) events in \(NumberText.fixed(report.seconds, digits: 2)) s")
        return out
    }
}

extension ViewReader {
    /// A view's CSV from a store opened read-only for the call.
    static func csvFromReadOnly(path: String, view: String) async throws -> String {
        let store = try await StateStore.openReadOnly(path: path)
        do {
            let text = try await ViewReader(store: store, view: view).csv()
            try await store.close()
            return text
        } catch {
            try? await store.close()
            throw error
        }
    }
}
