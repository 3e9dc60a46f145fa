/// The parameters of one `floe crashtest` run.
struct CrashtestConfig: Sendable {
    var directory: CrashtestDirectory
    var iterations: Int
    var seed: UInt64
    var failpoints: Bool
    var workload: CrashtestWorkload
    var minRunMs: Int
    var maxRunMs: Int
    /// `--iteration`: where to start (and replay from).
    var startIteration: Int?
    var killAfterOps: UInt64?
    var failpointTimeoutSeconds: Double
    var sabotage: CrashtestSabotage?
    /// This binary, started again as the worker.
    var executable: String
}
