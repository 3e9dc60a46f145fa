import Floe

/// The failpoint sweep of `floe crashtest --failpoints`: iteration `i` arms one
/// `(point, kind)` of every `Failpoint` times {crash, error}, cycling, with a
/// skip count drawn from `(seed, i)` so the point fires in the middle of a run
/// rather than on its first hit.
struct FailpointPlan: Sendable {
    /// One armed failpoint of an iteration.
    struct Arm: Sendable, Equatable {
        var point: Failpoint
        var kind: FailpointAction.Kind
        var action: FailpointAction

        /// The `FLOE_FAILPOINTS` value arming it in the worker.
        var environment: String { Failpoints.format([point: action]) }
        var label: String { "\(point.rawValue)=\(action)" }
    }

    static let kinds: [FailpointAction.Kind] = [.crash, .error]
    /// Every combination, in sweep order.
    static let combinations: [(Failpoint, FailpointAction.Kind)] = Failpoint.allCases.flatMap { p in kinds.map { (p, $0) } }

    /// Errors fire this many times, then the point passes: the worker's retries and
    /// reopens meet more than one failure and still get through.
    static let errorLimit = 2

    /// The arm of iteration `iteration`.
    static func arm(seed: UInt64, iteration: Int) -> Arm {
        let (point, kind) = combinations[iteration % combinations.count]
        var rng = CrashtestWorkload.rng(seed: seed, iteration: iteration, .failpointSkip)
        let skip = Int(rng.next() % UInt64(skipRange(point)))
        let action = kind == .crash ? FailpointAction(.crash, skip: skip) : FailpointAction(.error, skip: skip, limit: errorLimit)
        return Arm(point: point, kind: kind, action: action)
    }

    /// Skips are drawn below this bound: roughly the hits a point sees in its first
    /// second of the worker's run, so it fires mid-run but surely fires. (The GC
    /// points are hit once per pass that deletes anything, one batch: a pass every
    /// 0.1 s, deleting once the 0.5 s grace has passed.)
    static func skipRange(_ p: Failpoint) -> Int {
        switch p {
        case .syncBeforeSstPut, .syncAfterSstPut, .commitBeforeManifest, .commitAfterManifest: 12
        case .checkpointAfterWrite, .compactionBeforeCommit, .compactionAfterCommit: 3
        case .compactionBeforeUpload: 6
        case .gcBeforeDelete, .gcAfterDelete: 4
        case .objectStoreBeforeRename, .objectStoreBeforeDirFsync: 40
        }
    }

    /// The field of the worker's status line that counts the armed point's fires
    /// (an error leaves the worker running, so it reports them).
    static let firedField = "fired"
    /// What `Failpoints` prints to stderr when a crash point ends the process.
    static func crashMessage(_ p: Failpoint) -> String { "floe: failpoint \(p.rawValue) crashed the process" }
}
