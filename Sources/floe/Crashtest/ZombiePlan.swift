/// The seeded choices of one `floe crashtest --zombie` iteration: where and when
/// the zombie (writer A) is paused, how long the successor (writer B) writes
/// before the zombie resumes, when the successor is killed, and the compactor's
/// GC grace. Drawn from `(seed, iteration)` alone, so a replay makes the same
/// choices (the scheduler decides the rest).
struct ZombiePlan: Sendable, Equatable {
    /// Where the zombie is paused.
    enum Pause: String, Sendable, CaseIterable {
        /// SIGSTOP after `runMillis`, wherever the zombie is: a put, a read, an
        /// oracle append, a sync upload, a manifest append, a compaction.
        case anywhere
        /// After `runMillis`, the harness waits until the zombie is inside a commit
        /// (its intent fsynced, `checkpoint` running), waits `commitDelayMicros`
        /// more and sends SIGSTOP: in the seal, the upload or the manifest append,
        /// or (if the commit was faster) just after it.
        case inCommit = "in-commit"
        /// After `runMillis`, the harness asks the zombie to stop itself right after
        /// its next intent is fsynced: resumed, the first thing it does is that commit.
        case beforeCommit = "before-commit"
    }

    /// Timing bounds the plan is drawn within (`floe crashtest` options).
    struct Bounds: Sendable, Equatable {
        /// The zombie runs this long after its store is open before it is paused.
        var minRunMs: Int
        var maxRunMs: Int
        /// The successor writes this long, with the zombie paused, before the zombie resumes
        /// (skewed towards the minimum: see `pausedMillis`).
        var minPausedMs: Int
        var maxPausedMs: Int
        /// The compactor's `--gc-grace-seconds`.
        var minCompactorGraceMs: Int
        var maxCompactorGraceMs: Int

        static let defaultPausedMs = (min: 0, max: 1500)
        static let defaultCompactorGraceMs = (min: 200, max: 1000)
    }

    /// The successor is SIGKILLed within this long after the zombie's resume.
    static let maxSuccessorKillMs = 400
    /// An in-commit pause lands within this long after the zombie entered its commit.
    static let maxCommitDelayMicros = 3000

    var pause: Pause
    var runMillis: Int
    var commitDelayMicros: Int
    /// Drawn as `min + (max - min) * u²` for a uniform `u`, so about one zombie in
    /// five (with the default 0...1500 ms) resumes within 50 ms, while the manifest
    /// names it would append next still hold the successor's first records, and
    /// the rest mostly after the successor pruned past them.
    var pausedMillis: Int
    var successorKillMillis: Int
    var compactorGraceSeconds: Double

    init(seed: UInt64, iteration: Int, bounds b: Bounds) {
        var rng = CrashtestWorkload.rng(seed: seed, iteration: iteration, .zombie)
        func draw(_ lo: Int, _ hi: Int) -> Int { lo + Int(rng.next() % UInt64(hi - lo + 1)) }
        pause = Pause.allCases[Int(rng.next() % UInt64(Pause.allCases.count))]
        runMillis = draw(b.minRunMs, b.maxRunMs)
        commitDelayMicros = draw(0, Self.maxCommitDelayMicros)
        let u = Double(rng.next() >> 11) / Double(1 << 53)
        pausedMillis = b.minPausedMs + Int((Double(b.maxPausedMs - b.minPausedMs) * u * u).rounded())
        successorKillMillis = draw(0, Self.maxSuccessorKillMs)
        compactorGraceSeconds = Double(draw(b.minCompactorGraceMs, b.maxCompactorGraceMs)) / 1000
    }
}
