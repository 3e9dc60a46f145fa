import ArgumentParser
import Floe
#if canImport(Glibc)
import Glibc
#endif

/// `floe crashtest-worker` (hidden): the process `floe crashtest` kills. Runs the
/// seeded workload of one iteration on the store, writing the oracle as it goes,
/// until it is killed, stops itself (`--kill-after-ops`, or after a failpoint
/// fired as an error), or finds a problem.
///
/// Exit status: 137 when it stopped itself (as a failpoint crash does), 2 when a
/// read disagreed with its model (a consistency violation), 3 on any other error;
/// the last line of stdout says why.
struct CrashtestWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crashtest-worker",
        abstract: "Run one crash-test workload until killed (used by floe crashtest).",
        shouldDisplay: false)

    @Option(help: "Store directory.") var store: String
    @Option(help: "Oracle file (holds the base state to start from).") var oracle: String
    @Option(help: "File of the shared operation counter.") var opsCounter: String
    @Option(help: "Run seed.") var seed: UInt64
    @Option(help: "Iteration number (with the seed, fixes the workload).") var iteration: Int
    @Option(help: "Keys in the universe.") var keys: Int
    @Option(help: "Stop with status 137 before operation N+1.") var killAfterOps: UInt64?
    @Option(help: "The failpoint FLOE_FAILPOINTS arms (reported, and for errors, handled).") var failpoint: String?
    @Option(help: "Harness self-check: break the oracle protocol on purpose (see CrashtestSabotage).")
    var sabotage: CrashtestSabotage?
    @Option(help: "Process id of the harness; the worker ends itself once that process is gone.")
    var parentPid: Int32?

    static let exitStopped: Int32 = 137
    static let exitViolation: Int32 = 2
    static let exitError: Int32 = 3

    func validate() throws {
        guard keys >= 2 else { throw ValidationError("--keys must be at least 2") }
        if let f = failpoint, Failpoint(rawValue: f) == nil { throw ValidationError("unknown failpoint \(f)") }
    }

    func run() async throws {
        let command = self
        try await Task.detached { try await command.execute() }.value
    }

    private func execute() async throws {
        do {
            let session = try await WorkerSession(
                storePath: store, oraclePath: oracle, opsCounterPath: opsCounter, seed: seed, iteration: iteration,
                workload: CrashtestWorkload(keyCount: keys), killAfterOps: killAfterOps,
                failpoint: failpoint.flatMap(Failpoint.init(rawValue:)), sabotage: sabotage, parentPID: parentPid)
            try await session.run()
        } catch let WorkerFailure.violation(why) {
            Self.finish("violation: " + why, status: Self.exitViolation)
        } catch let WorkerFailure.error(why) {
            Self.finish("error: " + why, status: Self.exitError)
        } catch {
            Self.finish("error: \(error)", status: Self.exitError)
        }
    }

    /// Writes `line` to stdout and ends the process with `status` at once (no cleanup, like a kill).
    static func finish(_ line: String, status: Int32) -> Never {
        emit(line)
        _exit(status)
    }

    /// One line on stdout with a single unbuffered write, so a kill never loses part of an earlier line.
    static func emit(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(1, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            done += n
        }
    }
}

/// Why a worker gave up: its reads disagreed with its model, or something failed.
enum WorkerFailure: Error {
    case violation(String)
    case error(String)
}
