import Floe
import FloeDataflow
#if canImport(Glibc)
import Glibc
#endif

/// The loop of `floe eotest`: per schedule, the input's reference (made once per
/// group of schedules), then the killed pipeline — one child per planned run,
/// killed as planned and restarted — and the comparison of its store and sinks
/// with the reference's. Prints one line per schedule, the details of every
/// failure with a replay command, and the totals.
final class EotestRunner {
    let config: EotestConfig
    private var report = EotestReport()

    init(_ config: EotestConfig) {
        self.config = config
    }

    func run() async throws -> EotestReport {
        let started = CrashtestRunner.monotonicMillis()
        let first = config.firstSchedule
        if let s = config.sabotage { say("SABOTAGE \(s.rawValue): every schedule's outputs are damaged on purpose (harness self-check)") }
        say("floe eotest: seed \(config.seed), schedules \(first)..<\(first + config.schedules), \(config.kills) kills each, "
            + "query \(config.query) (\(config.queries.map(\.description).joined(separator: " | "))), "
            + (config.events.map { "\($0) events per input, " } ?? "")
            + "one input per \(config.schedulesPerInput) schedules, "
            + (config.disorderMs > 0 ? "disorder \(config.disorderMs) ms, " : "")
            + (config.latenessMs.map { "lateness \($0) ms, " } ?? "")
            + "work \(EotestFiles.absolute(config.work))")
        var reference: EotestReference?
        var referenceDir = ""
        var keepReference = config.keep
        for i in first..<(first + config.schedules) {
            let schedule = config.schedule(i)
            if reference?.input != schedule.input {
                if !keepReference && !referenceDir.isEmpty { EotestFiles.remove(referenceDir) }
                referenceDir = config.work + "/input-\(schedule.input.group)"
                keepReference = config.keep
                EotestFiles.remove(referenceDir)
                let made = try await EotestReference.make(input: schedule.input, directory: referenceDir,
                                                          executable: config.executable, disorderMs: config.disorderMs,
                                                          latenessMs: config.latenessMs)
                reference = made
                let rows = made.rows.keys.sorted().map { "\($0) \(made.rows[$0]!.count)" }.joined(separator: ", ")
                let late = config.latenessMs == nil ? ""
                    : "; late rows: " + made.outputs.lateRows.keys.sorted().map { "\($0) \(made.outputs.lateRows[$0]!.reduce(0, +))" }
                        .joined(separator: ", ")
                say("input \(schedule.input.group): query \(schedule.input.query), seed \(schedule.input.seed), "
                    + "\(schedule.input.partitions) partitions, \(schedule.input.segments) segments, "
                    + "\(schedule.input.query.eventsText(schedule.input.events)); reference \(made.runMs) ms, "
                    + "epoch \(made.outputs.committedEpoch), rows: \(rows)\(late)")
            }
            let result = try await runSchedule(schedule, reference!)
            report.add(result)
            say(result.line)
            if config.verbose && result.verdict != .failed { for line in result.runLines { say(line) } }
            if result.verdict == .failed {
                keepReference = true
                var dir = EotestFiles.absolute(scheduleDirectory(i))
                if let url = config.storeURL { dir += " and its store \(RemoteStoreScratch.url(url, appending: "schedule-\(i)"))" }
                for line in result.details(directory: dir, replay: config.replayCommand(schedule: i)) { say(line) }
            }
        }
        if !keepReference && !referenceDir.isEmpty { EotestFiles.remove(referenceDir) }
        if config.createdWork && !config.keep && report.failed == 0 { EotestFiles.remove(config.work) }
        report.wallSeconds = Double(CrashtestRunner.monotonicMillis() - started) / 1000
        say("")
        for line in report.lines { say(line) }
        return report
    }

    private func scheduleDirectory(_ index: Int) -> String { config.work + "/schedule-\(index)" }

    /// Runs the killed pipeline of `schedule` on its input and compares its outputs with the reference's.
    private func runSchedule(_ schedule: EotestSchedule, _ reference: EotestReference) async throws -> EotestScheduleResult {
        let started = CrashtestRunner.monotonicMillis()
        let dir = scheduleDirectory(schedule.index)
        EotestFiles.remove(dir)
        try EotestFiles.makeDirectory(dir)
        let sqlite = dir + "/sink.db", sinkDir = dir + "/sinks"
        let store: String
        if let url = config.storeURL {
            store = RemoteStoreScratch.url(url, appending: "schedule-\(schedule.index)")
            try await RemoteStoreScratch.empty(store)
        } else {
            store = dir + "/store"
        }
        let arguments = EotestReference.pipelineArguments(log: reference.log, store: store, query: schedule.input.query.pipelineQuery, sqlite: sqlite,
                                                          sinkDirectory: sinkDir, latenessMs: config.latenessMs)
        let views = reference.rows.keys.sorted()
        var result = EotestScheduleResult(schedule: schedule)
        // The file sink's epoch files after every run: a file replaced later was delivered twice.
        var listings: [[String: [EotestCheck.EpochFile]]] = []
        for (k, run) in schedule.runs.enumerated() {
            config.sabotage?.beforeRun(k, of: schedule.runs.count, sqlite: sqlite)
            let outcome = try EotestChildRun.run(executable: config.executable, arguments: arguments, run: run,
                                                 stderrPath: dir + "/run-\(k).err", timeoutMs: config.runTimeoutMs)
            result.runs.append(outcome)
            listings.append(Dictionary(uniqueKeysWithValues: views.map { ($0, EotestOutputs.listEpochFiles(directory: sinkDir, view: $0)) }))
            if outcome.timedOut {
                result.problems.append("run \(k) did not end within \(config.runTimeoutMs / 1000) s (a hang); it was killed")
            } else if run.kill == nil && !outcome.finished {
                result.problems.append("the last run, which nothing killed, \(outcome.termination) instead of finishing")
            } else if run.kill != nil && !outcome.killLanded && !outcome.finished {
                result.problems.append("run \(k) \(outcome.termination) before its kill (\(run.kill!)) landed")
            }
        }
        config.sabotage?.afterRuns(sinkDirectory: sinkDir, views: views)
        do {
            let actual = try await EotestOutputs.read(store: store, sqlite: sqlite, sinkDirectory: sinkDir, schemas: reference.outputs.schemas)
            compare(actual, reference, listings: listings, into: &result)
        } catch {
            result.problems.append("the killed pipeline's outputs cannot be read: \(error)")
        }
        result.wallMs = Int(CrashtestRunner.monotonicMillis() - started)
        if result.verdict != .failed && !config.keep {
            EotestFiles.remove(dir)
            if config.storeURL != nil { _ = try? await RemoteStoreScratch.empty(store) }
        }
        return result
    }

    /// Every comparison of the killed pipeline's outputs with the reference's.
    private func compare(_ actual: EotestOutputs, _ reference: EotestReference, listings: [[String: [EotestCheck.EpochFile]]],
                         into result: inout EotestScheduleResult) {
        let committed = actual.committedEpoch
        result.committedEpoch = committed
        for view in reference.rows.keys.sorted() {
            let expected = reference.outputs.dumps[view] ?? ""
            if let dump = actual.dumps[view] {
                if let d = EotestCheck.firstDifference(reference: expected, actual: dump) {
                    let rows = EotestCheck.rows(reference: Self.dumpRows(expected), actual: Self.dumpRows(dump))
                    result.viewDifferences.append(.init(view: view, line: d.line, reference: d.reference, actual: d.actual, rows: rows))
                }
            } else {
                result.problems.append("the killed pipeline's store holds no view \(view)")
            }
            let truth = reference.rows[view] ?? []
            result.sinkDiffs["sqlite", default: [:]][view] = EotestCheck.rows(reference: truth, actual: actual.sqliteRows[view] ?? [])
            result.sinkDiffs["file", default: [:]][view] = EotestCheck.rows(reference: truth, actual: actual.fileRows[view] ?? [])
            for (sink, delivered) in [("SQLite", actual.sqliteDelivered[view]), ("file", actual.fileDelivered[view])] where delivered != committed {
                result.problems.append("the \(sink) sink holds view \(view) through epoch \(delivered.map(String.init) ?? "?"), "
                    + "the store committed epoch \(committed)")
            }
            result.epochReports[view] = EotestCheck.epochs(actual.epochFiles[view] ?? [], earlier: listings.map { $0[view] ?? [] },
                                                           committed: committed)
        }
        for view in actual.dumps.keys.sorted() where reference.rows[view] == nil {
            result.problems.append("the killed pipeline's store holds a view \(view) the reference does not")
        }
        // Late rows are decided per partition from its rows alone: kills must not change the counts.
        if actual.lateRows != reference.outputs.lateRows {
            result.problems.append("committed late rows per source partition \(actual.lateRows.sorted { $0.key < $1.key }) differ from "
                + "the reference's \(reference.outputs.lateRows.sorted { $0.key < $1.key })")
        }
    }

    /// The rows of a dump (its lines after the header), each as one field, for a row diff.
    static func dumpRows(_ dump: String) -> [[String]] {
        dump.split(separator: "\n").dropFirst().map { [String($0)] }
    }

    private func say(_ line: String) {
        print(line)
        fflush(nil)
    }
}
