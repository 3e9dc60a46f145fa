#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
    /// `--zombie`: the bounds its seeded timings are drawn within (nil in the other modes).
    var zombie: ZombiePlan.Bounds?
    /// `--store-url`: the store on S3 (`s3://...`) instead of in the working
    /// directory; the oracle and the workers' files stay local.
    var storeURL: String? = nil

    /// What the workers and the check open: the URL, else the directory's `store/`.
    var storeLocation: String { storeURL ?? directory.store }

    /// The arguments of a `floe crashtest-worker` of iteration `iteration` writing `oracle`.
    func workerArguments(iteration: Int, oracle: String, opsCounter: String) -> [String] {
        ["crashtest-worker", "--store", storeLocation, "--oracle", oracle, "--ops-counter", opsCounter,
         "--seed", "\(seed)", "--iteration", "\(iteration)", "--keys", "\(workload.keyCount)", "--parent-pid", "\(getpid())"]
    }
}
