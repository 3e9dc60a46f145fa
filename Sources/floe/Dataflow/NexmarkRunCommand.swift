import ArgumentParser
import Floe
import FloeDataflow
#if canImport(Glibc)
import Glibc
#endif

/// `floe nexmark run`: one Nexmark query over CSV event files, loaded into a
/// partitioned log, run as a pipeline to the end of the input, with its figures.
struct NexmarkRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a Nexmark query over generated events or person/auction/bid CSV files and print its figures.",
        discussion: """
            With --events N (and --seed S), the query reads the first N events of the deterministic \
            generator in-process (docs/nexmark.md), each stream in --partitions partitions. With --csv DIR it \
            loads DIR/person.csv, DIR/auction.csv and DIR/bid.csv (only those the query reads; a header \
            of the schema's column names, values in their text forms) into a partitioned log (--log, \
            default STORE.log next to the store); a topic the log already holds with the CSV's row count \
            is not loaded again. Then runs the query's pipeline over the log until the end of the input, \
            with a barrier (one committed epoch) every --barrier-interval-ms, and prints: events read, \
            the run's seconds (start to last commit, the load excluded), events/s, p50 and p99 \
            barrier-to-commit latency, the store's SST bytes (state size) and the view's rows. A store \
            that already holds the query's committed state resumes from its offsets (and reads nothing \
            new): use a fresh --path per measurement.
            """)

    @Option(help: "The query: q0, q1, q2, q3, q4, q5, q7, q8, q9 (or nexmark_qN, or all).") var query: String
    @Option(help: "Directory with person.csv, auction.csv and bid.csv (or use --events).") var csv: String?
    @Option(help: "Generated events to read in-process (instead of --csv).") var events: UInt64?
    @Option(help: "Seed of the generated events.") var seed: UInt64 = 1
    @Option(help: "Store directory or URL (s3://bucket/prefix?..., docs/s3.md).") var path: String
    @Option(help: "Log directory (default: STORE.log next to the store).") var log: String?
    @Option(help: "Instances of each stateful operator.") var parallelism: Int = 2
    @Option(help: "Partitions of the topics (when loading them) or of the generated streams.") var partitions: Int = 2
    @Option(name: .customLong("barrier-interval-ms"), help: "Time between barriers (one epoch each).") var barrierIntervalMs: Int = 1000
    @Option(help: "Write the figures as JSON to this file.") var json: String?
    @Option(help: ArgumentHelp("Allowed lateness of date_time: later rows are dropped and counted, and q5, q7 and q8 clean the state of closed windows (default: off, views exact over all input).",
                               valueName: "ms"))
    var latenessMs: Int?

    func run() async throws {
        let command = self
        try await Task.detached { try await command.execute() }.value
    }

    /// The views of `query`, or `unknownQuery`.
    static func views(_ query: String) throws -> [String] {
        do {
            return try NexmarkQueries.names(query)
        } catch {
            throw NexmarkRunError.unknownQuery(query, known: NexmarkQueries.all.map { String($0.dropFirst("nexmark_".count)) } + ["all"])
        }
    }

    func execute() async throws {
        guard parallelism >= 1 else { throw NexmarkRunError.badOption("--parallelism must be at least 1, not \(parallelism)") }
        guard (1...1024).contains(partitions) else { throw NexmarkRunError.badOption("--partitions must be in 1...1024, not \(partitions)") }
        guard barrierIntervalMs >= 1 else { throw NexmarkRunError.badOption("--barrier-interval-ms must be at least 1, not \(barrierIntervalMs)") }
        guard (0...86_400_000).contains(latenessMs ?? 0) else { throw NexmarkRunError.badOption("--lateness-ms must be in 0...86400000") }
        guard (csv == nil) != (events == nil) else { throw NexmarkRunError.badOption("give exactly one of --csv DIR and --events N") }
        let names = try Self.views(query)
        let streams = try NexmarkQueries.inputs(of: names)
        var sources: [NexmarkStreams.Stream: any Source] = [:]
        var loadSeconds = 0.0
        if let csv {
            let files = streams.map { "\(csv)/\($0.topic).csv" }
            for f in files where access(f, R_OK) != 0 { throw NexmarkRunError.missingCsv(path: f, query: query) }
            let logDir = log ?? (path.hasSuffix("/") ? String(path.dropLast()) : path) + ".log"
            let partitioned = try PartitionedLog(directory: logDir)
            let loadStart = ContinuousClock.now
            for (s, file) in zip(streams, files) {
                try await Self.load(file, stream: s, into: partitioned, partitions: partitions, logDir: logDir)
            }
            loadSeconds = Self.seconds(ContinuousClock.now - loadStart)
            for s in streams { sources[s] = try await LogSource(log: partitioned, topic: s.topic, schema: s.schema) }
        } else if let events {
            let generator = NexmarkGenerator(seed: seed)
            for s in streams {
                sources[s] = try NexmarkSource(stream: s, generator: generator, partitions: partitions, events: events)
            }
        }

        // The restart figure starts here, not at the command's start: the log load (or the
        // check that the log already holds the CSV) is the benchmark's preparation.
        let opening = ContinuousClock.now
        let store = try await StateStore.open(url: path)
        let b = PipelineBuilder()
        try NexmarkQueries.add(names, to: b, sources: sources, latenessMicros: latenessMs.map { Int64($0) * 1000 })
        var options = PipelineOptions()
        options.parallelism = parallelism
        options.barrierIntervalMillis = barrierIntervalMs
        options.untilEnd = true
        let firstCommit = Lock<ContinuousClock.Instant?>(nil)
        options.onCommit = { _ in
            let now = ContinuousClock.now
            firstCommit.withLock { if $0 == nil { $0 = now } }
        }
        let report: PipelineReport
        do {
            report = try await Pipeline(store: store, builder: b, options: options).run()
        } catch {
            try? await store.close()
            throw error
        }
        // A resumed run (the store held committed epochs): from opening the store to the
        // run's first new commit is the stateless recovery of a restart.
        let resumed = report.startEpoch > 0
        let toFirstCommit = firstCommit.withLock { $0 }.map { Self.seconds($0 - opening) }
        let stateBytes = store.statistics.sstBytes
        var viewRows = 0
        for n in names { viewRows += try await ViewReader(store: store, view: n).scan().count }
        try await store.close()

        let rate = report.seconds > 0 ? Double(report.eventsIn) / report.seconds : 0
        let p50 = report.latencyQuantile(0.5) ?? -1, p99 = report.latencyQuantile(0.99) ?? -1
        print("""
            nexmark \(query): \(report.eventsIn) events in \(NumberText.fixed(report.seconds, digits: 2)) s \
            (\(NumberText.fixed(rate / 1000, digits: 1))k events/s); load \(NumberText.fixed(loadSeconds, digits: 2)) s
            barrier to commit: p50 \(NumberText.fixed(p50, digits: 1)) ms, p99 \(NumberText.fixed(p99, digits: 1)) ms \
            (\(report.commitLatencyMillis.count) epochs)
            state \(stateBytes) bytes, view rows \(viewRows)\(latenessMs == nil ? "" : ", late rows \(report.totalLateRows)")
            """)
        if let toFirstCommit {
            let from = resumed ? "resumed after epoch \(report.startEpoch); " : ""
            print("\(from)first commit \(NumberText.fixed(toFirstCommit * 1000, digits: 1)) ms after opening the store")
        }
        if let json {
            let text = """
                {"query": "\(query)", "events": \(report.eventsIn), "load_seconds": \(loadSeconds), "run_seconds": \(report.seconds), \
                "events_per_sec": \(rate), "latency_p50_ms": \(p50), "latency_p99_ms": \(p99), "state_bytes": \(stateBytes), \
                "view_rows": \(viewRows), "late_rows": \(report.totalLateRows), "start_epoch": \(report.startEpoch), "resumed": \(resumed), \
                "open_to_first_commit_seconds": \(toFirstCommit ?? -1), "parallelism": \(parallelism), "barrier_interval_ms": \(barrierIntervalMs)}

                """
            try FileBytes.save(Array(text.utf8), to: json)
        }
    }

    /// Loads the CSV into its topic, unless the log holds the topic with as many rows
    /// (then nothing is read but the file's records, counted). Throws `topicDiffers`
    /// for another count, and `CsvLoader`'s errors.
    static func load(_ file: String, stream: NexmarkStreams.Stream, into log: PartitionedLog, partitions: Int, logDir: String) async throws {
        let text = try LocalFile.read(file)
        if try await log.topicIfExists(stream.topic) != nil {
            let have = try await log.endOffsets(stream.topic).reduce(0, +)
            var parser = CsvParser(text, file: file)
            var fields = CsvFields()
            var records: UInt64 = 0
            while try parser.next(into: &fields) { records += 1 }
            let rows = records > 0 ? records - 1 : 0
            guard have == rows else { throw NexmarkRunError.topicDiffers(topic: stream.topic, logRows: have, csvRows: rows, log: logDir) }
            return
        }
        try await CsvLoader.load(csv: text, file: file, into: log, topic: stream.topic, partitions: partitions, schema: stream.schema)
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
}
