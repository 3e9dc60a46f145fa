import ArgumentParser
import FloeS3
import Floe
import FloeDataflow
#if canImport(Glibc)
import Glibc
#endif

/// `floe eotest`: the proof that the pipelines are exactly-once under kills (docs/eotest.md).
struct EotestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eotest",
        abstract: "Kill and restart pipelines again and again and check their views and sinks against a failure-free run.",
        discussion: """
            Each schedule runs `floe pipeline run --until-end` over a seeded input (orders and payments \
            for the seeds' views, person, auction and bid for the Nexmark queries; 1 to 4 partitions; one \
            input and its failure-free reference run per --schedules-per-input schedules, the inputs \
            rotating through the query sets of --query) into a fresh store, a SQLite sink and a file \
            sink, and kills it --kills times at \
            seeded moments, restarting it after each kill with another parallelism, barrier interval and \
            chunk size: SIGKILL after a delay while data flows, a crash at a store failpoint of the commit \
            path (FLOE_FAILPOINTS), or SIGKILL during the restart's recovery (a few milliseconds after the \
            start, or right after its first commit). The last run finishes. Then every view dumped from the \
            store must be byte-equal to the reference's dump, each sink must hold exactly the reference's \
            rows (none lost, none duplicated), and the file sink must hold one file per epoch 1...committed \
            (no gap, none written twice, in order). With --lateness-ms every run drops late rows and cleans \
            closed windows (and, for the Nexmark queries, expired join and top-N state: q5, q7, q8, q9), and \
            the late rows each source partition committed must equal the reference's (--disorder-ms, seeds' \
            views only, makes the generated input out of order, so that some rows are late). A schedule \
            none of whose kills landed after a committed epoch is inconclusive.

            Schedule i depends on (--seed, i) only: a failure prints the command that reruns it alone \
            (--first-schedule i --schedules 1). Exits 1 if any schedule failed, or if fewer than 90% passed.

            --store-url s3://bucket/prefix?endpoint=... puts each killed pipeline's store on S3 (the reference \
            runs, logs and sinks stay local); the local object store's failpoints are then left out of the kills \
            (docs/s3.md).
            """)

    @Option(help: "Seed of every choice (schedule i uses a seed derived from it and i).") var seed: UInt64 = 1
    @Option(help: "Schedules to run.") var schedules: Int = 20
    @Option(help: "Kills per schedule (the run after the last kill finishes by itself).") var kills: Int = 3
    @Option(help: """
        all (the inputs alternate between the seeds' views and the Nexmark queries), eo (the seeds' three views), \
        nexmark (q3, q4, q5, q7, q8, q9), or a comma-separated list of views: eo_order_revenue, eo_payment_match, \
        eo_order_windows, q3, q4, q5, q7, q8, q9.
        """)
    var query: String = "all"
    @Option(help: """
        Events per input: of each stream (orders, payments) for the seeds' views (default 20000; 400000 for \
        eo_order_revenue or eo_order_windows alone), global Nexmark events for the Nexmark queries (default \(EotestQuerySet.defaultNexmarkEvents)).
        """)
    var events: Int?
    @Option(help: "Schedules that share one input and its reference run.") var schedulesPerInput: Int = EotestConfig.defaultSchedulesPerInput
    @Option(help: "Index of the first schedule (with --schedules 1: rerun that schedule alone).") var firstSchedule: Int = 0
    @Option(help: ArgumentHelp("Move each generated event's time earlier by a seeded 0...MS milliseconds (out-of-order input; default 0).",
                               valueName: "ms"))
    var disorderMs: Int = 0
    @Option(help: ArgumentHelp("Run every pipeline with this allowed lateness: late rows dropped and counted, closed windows cleaned (default: off).",
                               valueName: "ms"))
    var latenessMs: Int?
    @Option(help: ArgumentHelp("Working directory (default: a new one under $TMPDIR or /tmp).", valueName: "dir")) var work: String?
    @Flag(help: "Keep every schedule's store and sinks (by default only a failed schedule's are kept).") var keep = false
    @Flag(help: "Print every schedule's plan and how each of its runs ended.") var verbose = false
    @Option(help: ArgumentHelp("Harness self-check: damage every schedule's outputs (drop-epoch-file, rewrite-epoch-file, forget-sqlite).",
                               visibility: .hidden))
    var sabotage: EotestSabotage?
    @Option(help: ArgumentHelp("Put the killed pipelines' stores on S3 (s3://bucket/prefix?endpoint=...), schedule i's under prefix/schedule-i, emptied first; references, logs and sinks stay local.",
                               valueName: "url"))
    var storeURL: String?
    @OptionGroup var logging: LogLevelOption

    func validate() throws {
        if let storeURL {
            guard FloeStoreURL.isRemote(storeURL) else { throw ValidationError("--store-url takes an s3:// URL (local stores go in --work)") }
            do { _ = try FloeStoreURL.parse(storeURL) } catch { throw ValidationError("--store-url: \(error)") }
        }
        guard (1...1_000_000).contains(schedules) else { throw ValidationError("--schedules must be in 1...1000000") }
        guard (1...1000).contains(kills) else { throw ValidationError("--kills must be in 1...1000") }
        guard (1...100_000_000).contains(events ?? 1) else { throw ValidationError("--events must be in 1...100000000") }
        guard (1...1_000_000).contains(schedulesPerInput) else { throw ValidationError("--schedules-per-input must be in 1...1000000") }
        guard (0...1_000_000_000).contains(firstSchedule) else { throw ValidationError("--first-schedule must be in 0...1000000000") }
        let sets: [EotestQuerySet]
        do { sets = try EotestQuerySet.rotation(query) } catch { throw ValidationError("--query: \(error)") }
        if disorderMs > 0 && sets.contains(where: { $0.family == .nexmark }) {
            throw ValidationError("--disorder-ms applies to the seeds' views only: give --query eo (or a list of them)")
        }
        if getenv(Failpoints.environmentVariable) != nil {
            throw ValidationError("\(Failpoints.environmentVariable) is set; floe eotest arms failpoints in its children itself "
                + "and its reference runs must run without them: unset it")
        }
        if let work, work.isEmpty { throw ValidationError("--work must not be empty") }
        guard (0...86_400_000).contains(disorderMs) else { throw ValidationError("--disorder-ms must be in 0...86400000") }
        guard (0...86_400_000).contains(latenessMs ?? 0) else { throw ValidationError("--lateness-ms must be in 0...86400000") }
    }

    func run() async throws {
        logging.install()
        let directory: String, created: Bool
        if let work {
            directory = work
            created = false
        } else {
            directory = try EotestFiles.temporaryDirectory()
            created = true
        }
        var config = EotestConfig(seed: seed, firstSchedule: firstSchedule, schedules: schedules, kills: kills, query: query,
                                  queries: try EotestQuerySet.rotation(query), events: events, schedulesPerInput: schedulesPerInput,
                                  work: directory, createdWork: created, keep: keep, executable: ChildProcess.currentExecutable())
        config.verbose = verbose
        config.sabotage = sabotage
        config.disorderMs = disorderMs
        config.latenessMs = latenessMs
        config.storeURL = storeURL
        let report: EotestReport
        do {
            try EotestFiles.makeDirectory(directory)
            report = try await Task.detached { try await EotestRunner(config).run() }.value
        } catch {
            InspectFormat.printError("eotest: \(error) (work directory \(directory) kept)")
            throw ExitCode(2)
        }
        if !report.succeeded { throw ExitCode(1) }
    }
}
