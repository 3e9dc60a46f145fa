import FloeDataflow

/// The settings of a `floe eotest` run, validated.
struct EotestConfig: Sendable {
    var seed: UInt64
    /// Schedules `firstSchedule ..< firstSchedule + schedules` run.
    var firstSchedule: Int
    var schedules: Int
    var kills: Int
    var query: String
    /// Events of each stream per input.
    var events: Int
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

    /// Events per stream by default: enough that a run spans many epochs. The join
    /// (`eo_payment_match`, and so `all`) processes some 50k events/s on one core;
    /// the two aggregations alone process twenty times as many.
    static func defaultEvents(query: String) -> Int {
        query == EoViews.revenue || query == EoViews.windows ? 400_000 : 20_000
    }
    static let defaultSchedulesPerInput = 10

    /// The command that reruns schedule `index` alone, with the same input and choices.
    func replayCommand(schedule index: Int) -> String {
        "floe eotest --seed \(seed) --first-schedule \(index) --schedules 1 --kills \(kills) --query \(query) "
            + "--events \(events) --schedules-per-input \(schedulesPerInput) --keep"
            + (disorderMs > 0 ? " --disorder-ms \(disorderMs)" : "") + (latenessMs.map { " --lateness-ms \($0)" } ?? "")
            + (sabotage.map { " --sabotage \($0.rawValue)" } ?? "")
    }
}
