import FloeDataflow

/// The settings of a `floe eotest` run, validated.
struct EotestConfig: Sendable {
    var seed: UInt64
    /// Schedules `firstSchedule ..< firstSchedule + schedules` run.
    var firstSchedule: Int
    var schedules: Int
    var kills: Int
    /// `--query` as given, and the query sets it resolves to (`EotestQuerySet.rotation`,
    /// never empty): input group g runs `queries[g % queries.count]`.
    var query: String
    var queries: [EotestQuerySet]
    /// Events per input (`EotestSchedule.Input.events`); nil: each query set's default.
    var events: Int?
    /// Schedules that share one input (and its reference run).
    var schedulesPerInput: Int
    /// The working directory, and whether this run created it (then it is removed when everything passed).
    var work: String
    var createdWork: Bool
    var keep: Bool
    /// Harness self-check: damage done on purpose to every schedule's outputs.
    var sabotage: EotestSabotage?
    /// Print every schedule's plan and runs, not only a failed one's.
    var verbose = false
    /// The `floe` executable the children run.
    var executable: String
    /// A child still running after this long has hung: it is killed and its schedule fails.
    var runTimeoutMs = 120_000
    /// Event times of the generated streams out of order by up to this (0: in order).
    var disorderMs = 0
    /// Every run drops late rows with this lateness and cleans closed windows (nil: off).
    var latenessMs: Int?

    /// `--store-url`: the killed pipelines' stores on S3, schedule i's under the
    /// sub-prefix `schedule-i` (nil: in each schedule's directory). References,
    /// logs and sinks stay local.
    var storeURL: String?

    static let defaultSchedulesPerInput = 10

    /// The plan of schedule `index`.
    func schedule(_ index: Int) -> EotestSchedule {
        EotestSchedule(base: seed, index: index, kills: kills, events: events, schedulesPerInput: schedulesPerInput, queries: queries,
                       objectStoreFailpoints: storeURL == nil)
    }

    /// The command that reruns schedule `index` alone, with the same input and choices.
    func replayCommand(schedule index: Int) -> String {
        "floe eotest --seed \(seed) --first-schedule \(index) --schedules 1 --kills \(kills) --query \(query) "
            + (events.map { "--events \($0) " } ?? "") + "--schedules-per-input \(schedulesPerInput) --keep"
            + (disorderMs > 0 ? " --disorder-ms \(disorderMs)" : "") + (latenessMs.map { " --lateness-ms \($0)" } ?? "")
            + (sabotage.map { " --sabotage \($0.rawValue)" } ?? "") + (storeURL.map { " --store-url '\($0)'" } ?? "")
    }
}
