import Floe
import FloeDataflow

/// The input of a group of schedules and what a failure-free pipeline makes of it:
/// the streams of its query set generated (orders and payments, or the Nexmark
/// streams its queries read) and loaded into a fresh log, then one `floe pipeline
/// run --until-end` (no kill, parallelism 1, default chunks) of its views into its
/// own store and sinks, whose view dumps and rows every killed run of the group
/// must match.
struct EotestReference {
    let input: EotestSchedule.Input
    /// The log directory every run of the group reads.
    let log: String
    /// The reference's store, view dumps and sinks.
    let outputs: EotestOutputs
    /// Each view's rows as the reference store holds them (the truth the sinks are held to).
    let rows: [String: [[String]]]
    /// Wall time of the reference run, milliseconds.
    let runMs: Int

    /// Options of the reference run: one instance, the default chunks, a barrier
    /// interval unlike the killed runs' (so its epochs fall elsewhere).
    static let run = EotestSchedule.Run(parallelism: 1, barrierIntervalMs: 50, chunkRows: PipelineOptions().chunkRows,
                                        channelCapacity: PipelineOptions().channelCapacity, kill: nil)

    /// Generates and loads `input` in `directory` (which must be empty or absent),
    /// its event times out of order by up to `disorderMs` (the seeds' streams only),
    /// and runs the reference of its views there (with `--lateness-ms latenessMs`
    /// when given). Throws `EotestError` when the reference itself fails or its
    /// sinks disagree with its views.
    static func make(input: EotestSchedule.Input, directory: String, executable: String, disorderMs: Int = 0,
                     latenessMs: Int? = nil) async throws -> EotestReference {
        try EotestFiles.makeDirectory(directory)
        let log = directory + "/log"
        let target = try PartitionedLog(directory: log)
        // Each stream as CSV, loaded in `segments` appends of consecutive rows.
        func load(topic: String, write: (String) throws -> Void) async throws {
            let csv = directory + "/\(topic).csv"
            try write(csv)
            for piece in try splitCsv(FileBytes.contents(of: csv), pieces: input.segments) {
                try await CsvLoader.load(csv: piece, file: csv, into: target, topic: topic, partitions: input.partitions)
            }
            EotestFiles.remove(csv)
        }
        switch input.query.family {
        case .eo:
            for stream in EoStreams.Stream.allCases {
                try await load(topic: stream.topic) { csv in
                    try EoGenerator(stream: stream, seed: input.seed, disorderMicros: Int64(disorderMs) * 1000)
                        .writeCsv(events: UInt64(input.events), to: csv)
                }
            }
        case .nexmark:
            let generator = NexmarkGenerator(seed: input.seed)
            for stream in try NexmarkQueries.inputs(of: input.query.views) {
                try await load(topic: stream.topic) { csv in
                    try NexmarkCsv.write(stream, generator: generator, events: UInt64(input.events), to: csv)
                }
            }
        }
        let store = directory + "/store", sqlite = directory + "/sink.db", sinkDir = directory + "/sinks"
        let outcome = try EotestChildRun.run(
            executable: executable, arguments: pipelineArguments(log: log, store: store, query: input.query.pipelineQuery, sqlite: sqlite,
                                                                 sinkDirectory: sinkDir, latenessMs: latenessMs),
            run: Self.run, stderrPath: directory + "/reference.err", timeoutMs: 600_000)
        guard outcome.finished else {
            throw EotestError("the reference run of input \(input.group) \(outcome.ending); see \(outcome.stderrPath)")
        }
        let outputs = try await EotestOutputs.read(store: store, sqlite: sqlite, sinkDirectory: sinkDir)
        var rows: [String: [[String]]] = [:]
        let opened = try await StateStore.openReadOnly(path: store, options: CLILogging.storeOptions())
        for name in outputs.dumps.keys.sorted() { rows[name] = try await ViewReader(store: opened, view: name).sortedRows() }
        try await opened.close()
        // The truth must agree with itself before it judges anything.
        for (name, viewRows) in rows {
            for (sink, sinkRows) in [("SQLite", outputs.sqliteRows[name] ?? []), ("file", outputs.fileRows[name] ?? [])] {
                let diff = EotestCheck.rows(reference: viewRows, actual: sinkRows)
                guard diff.isEmpty else {
                    throw EotestError("the reference run's \(sink) sink differs from its view \(name) without any kill "
                        + "(\(diff.lost.count) rows missing, \(diff.duplicated.count) extra); kept in \(directory)")
                }
            }
        }
        return EotestReference(input: input, log: log, outputs: outputs, rows: rows, runMs: outcome.elapsedMs)
    }

    /// CSV text cut into `pieces` CSVs of consecutive rows, each with the header
    /// (the generator's rows are one line each, without quoted line breaks).
    static func splitCsv(_ text: [UInt8], pieces: Int) -> [[UInt8]] {
        let lines = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
        guard let header = lines.first, pieces > 1 else { return [text] }
        let rows = lines.dropFirst()
        let per = (rows.count + pieces - 1) / pieces
        return stride(from: rows.startIndex, to: rows.endIndex, by: max(1, per)).map { start in
            var out = Array(header) + [UInt8(ascii: "\n")]
            for line in rows[start..<min(rows.endIndex, start + per)] { out += line + [UInt8(ascii: "\n")] }
            return out
        }
    }

    /// The arguments of `floe pipeline run` naming the log, store, query, sinks and lateness.
    static func pipelineArguments(log: String, store: String, query: String, sqlite: String, sinkDirectory: String,
                                  latenessMs: Int? = nil) -> [String] {
        ["--log", log, "--path", store, "--query", query, "--sink-sqlite", sqlite, "--sink-dir", sinkDirectory]
            + (latenessMs.map { ["--lateness-ms", String($0)] } ?? [])
    }
}

/// A failure of the harness itself (not a finding about the pipelines).
struct EotestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
