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

    @Option(help: "Store directory, or s3:// URL (floe crashtest --store-url).") var store: String
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
    @Option(help: "Run as the zombie of --zombie: the control mapping shared with the harness (ZombieControl).")
    var zombieControl: String?
    @Option(help: "Run as the successor of --zombie: the oracle of the paused writer it takes the store from; --oracle is written anew.")
    var takeoverFrom: String?

    static let exitStopped: Int32 = 137
    static let exitViolation: Int32 = 2
    static let exitError: Int32 = 3
    /// The zombie's end: a store call threw `fenced`; the last line is `fencedPrefix` + what was refused.
    static let exitFenced: Int32 = 4
    static let fencedPrefix = "fenced: "

    func validate() throws {
        guard keys >= 2 else { throw ValidationError("--keys must be at least 2") }
        if let f = failpoint, Failpoint(rawValue: f) == nil { throw ValidationError("unknown failpoint \(f)") }
        if zombieControl != nil && takeoverFrom != nil { throw ValidationError("--zombie-control and --takeover-from are two roles: give one") }
        if sabotage == .zombieUnfenced && takeoverFrom == nil { throw ValidationError("--sabotage zombie-unfenced needs --takeover-from") }
        if takeoverFrom != nil, let s = sabotage, s != .zombieUnfenced {
            throw ValidationError("the successor (--takeover-from) takes only --sabotage zombie-unfenced")
        }
    }

    func run() async throws {
        let command = self
        try await Task.detached { try await command.execute() }.value
    }

    private func execute() async throws {
        do {
            if let takeoverFrom, sabotage == .zombieUnfenced { try await standInWithoutOpening(takeoverFrom) }
            let role: WorkerSession.Role = if let zombieControl { .zombie(controlPath: zombieControl) }
                else if let takeoverFrom { .successor(takeoverFrom: takeoverFrom) } else { .plain }
            let session = try await WorkerSession(
                storePath: store, oraclePath: oracle, opsCounterPath: opsCounter, seed: seed, iteration: iteration,
                workload: CrashtestWorkload(keyCount: keys), killAfterOps: killAfterOps,
                failpoint: failpoint.flatMap(Failpoint.init(rawValue:)), sabotage: sabotage, parentPID: parentPid, role: role)
            try await session.run()
        } catch let WorkerFailure.violation(why) {
            Self.finish("violation: " + why, status: Self.exitViolation)
        } catch let WorkerFailure.error(why) {
            Self.finish("error: " + why, status: Self.exitError)
        } catch let WorkerFailure.fenced(why) {
            Self.finish("error: " + why, status: Self.exitError)
        } catch {
            Self.finish("error: \(error)", status: Self.exitError)
        }
    }

    /// The `zombie-unfenced` sabotage of the successor: it learns the committed epoch
    /// by reading the manifest (no `open` record, so the zombie is not fenced), starts
    /// its oracle there as a real successor would, then idles until killed, leaving
    /// the store to the resumed zombie, whose commits then succeed.
    private func standInWithoutOpening(_ takeoverFrom: String) async throws -> Never {
        let recovered = try await StoreInspector.directory(store).currentVersion().committedEpoch
        _ = try WorkerSession.start(takingOverFrom: takeoverFrom, at: recovered, oraclePath: oracle)
        Self.emit("sabotage zombie-unfenced: took over at epoch \(recovered) without opening the store")
        while true {
            if let p = parentPid, getppid() != p { Self.finish("stop: the harness (process \(p)) is gone", status: Self.exitStopped) }
            try await Task.sleep(for: .milliseconds(20))
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

/// Why a worker gave up: its reads disagreed with its model, another writer
/// fenced it, or something else failed.
enum WorkerFailure: Error {
    case violation(String)
    /// A store call threw `FloeError.fenced`: "what: error".
    case fenced(String)
    case error(String)

    /// The failure of the store call `what` with `error`.
    init(_ what: String, _ error: any Error) {
        if case .fenced? = error as? FloeError {
            self = .fenced("\(what): \(error)")
        } else {
            self = .error("\(what): \(error)")
        }
    }

    var isFenced: Bool {
        if case .fenced = self { return true }
        return false
    }
}
