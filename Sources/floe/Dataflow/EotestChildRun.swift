import Floe
#if canImport(Glibc)
import Glibc
#endif

/// One run of `floe pipeline run --until-end --print-commits` as a child of
/// `floe eotest`, ended as its plan says: SIGKILLed at a time, crashed by an armed
/// failpoint, or left to finish. Its stdout is read while it runs, for the
/// `committed E` lines (a kill that comes after one of them lands on committed
/// state) and `first-commit-ms N` (the recovery time).
struct EotestChildRun {
    /// What one child did.
    struct Outcome: Sendable {
        var run: EotestSchedule.Run
        var termination: ChildProcess.Termination
        /// Epochs the child printed as committed, in order.
        var committed: [UInt64] = []
        /// From the child's start to its first commit, as the child measured it.
        var firstCommitMs: Int?
        /// The harness's SIGKILL ended the child.
        var killedByHarness = false
        /// The armed failpoint ended the child.
        var crashedAtFailpoint = false
        /// The child did not end within the harness's limit (it was then killed).
        var timedOut = false
        /// Milliseconds from the start to the kill (or the end).
        var elapsedMs = 0
        /// Where the child's stderr is.
        var stderrPath: String

        /// The planned kill ended the child (it did not finish first).
        var killLanded: Bool { killedByHarness || crashedAtFailpoint }
        /// The kill landed after the child had committed at least one epoch.
        var landedAfterCommit: Bool { killLanded && !committed.isEmpty }
        var finished: Bool { termination == .exited(0) }

        /// How the run ended, for the schedule's line.
        var ending: String {
            if timedOut { return "TIMED OUT" }
            if crashedAtFailpoint { return "crashed at the failpoint" }
            if killedByHarness { return "killed" }
            if finished { return run.kill == nil ? "finished" : "finished before the kill (missed)" }
            return "FAILED (\(termination))"
        }
    }

    /// Starts `executable pipeline run` with `arguments` (the store, log, sinks and
    /// query) plus the run's options, kills it as `run.kill` says and returns what it
    /// did. A child still running after `timeoutMs` is killed and reported as timed out.
    static func run(executable: String, arguments: [String], run: EotestSchedule.Run, stderrPath: String,
                    timeoutMs: Int) throws -> Outcome {
        var environment: [String: String] = [:]
        if let fp = run.kill?.failpointEnvironment { environment[Failpoints.environmentVariable] = fp }
        let args = ["pipeline", "run"] + arguments + run.arguments + ["--until-end", "--print-commits"]
        let started = CrashtestRunner.monotonicMillis()
        let child = try ChildProcess(executable: executable, arguments: args, environment: environment, outputFiles: nil,
                                     stderrFile: stderrPath)
        var out = Outcome(run: run, termination: .exited(0), stderrPath: stderrPath)
        var deadline: UInt64?
        // Kills that count from the start have their deadline now; the others once
        // the child printed the commit they count from.
        var commitsBeforeDeadline: Int?, delay = 0
        switch run.kill {
        case let .timed(0, d)?, let .recoveryStart(d)?: deadline = started + UInt64(d)
        case let .timed(c, d)?: (commitsBeforeDeadline, delay) = (c, d)
        case let .afterFirstCommit(d)?: (commitsBeforeDeadline, delay) = (1, d)
        default: break
        }
        var outputEnded = false
        func take(_ lines: [String]) {
            for line in lines {
                let parts = line.split(separator: " ")
                guard parts.count == 2 else { continue }
                if parts[0] == "committed", let e = UInt64(parts[1]) { out.committed.append(e) }
                if parts[0] == "first-commit-ms", let ms = Int(parts[1]) { out.firstCommitMs = ms }
            }
        }
        func drain() throws {
            while !outputEnded {
                let (lines, ended) = try child.availableLines(waitMillis: 100)
                take(lines)
                outputEnded = ended
            }
        }
        while true {
            if outputEnded {
                usleep(500)
            } else {
                let (lines, ended) = try child.availableLines(waitMillis: 1)
                take(lines)
                outputEnded = ended
            }
            let now = CrashtestRunner.monotonicMillis()
            if let c = commitsBeforeDeadline, deadline == nil, out.committed.count >= c { deadline = now + UInt64(delay) }
            if let t = child.exitIfEnded() {
                out.termination = t
                break
            }
            if let deadline, now >= deadline {
                out.termination = child.killAndWait()
                out.killedByHarness = out.termination == .signalled(SIGKILL)
                break
            }
            if now - started >= UInt64(timeoutMs) {
                out.termination = child.killAndWait()
                out.timedOut = true
                break
            }
        }
        out.elapsedMs = Int(CrashtestRunner.monotonicMillis() - started)
        // The pipe keeps every line written before the end: a kill loses none.
        try drain()
        if case let .failpoint(point, _)? = run.kill, out.termination == .exited(137) {
            let err = String(decoding: (try? FileBytes.contents(of: stderrPath)) ?? [], as: UTF8.self)
            out.crashedAtFailpoint = err.contains(FailpointPlan.crashMessage(point))
        }
        return out
    }
}
