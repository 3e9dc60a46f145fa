import Floe
import FloeTesting
#if canImport(Glibc)
import Glibc
#endif

/// What happened in one `floe crashtest` iteration: how the worker ended, what
/// it reported, and the check of the recovered store.
struct CrashtestIteration {
    var iteration: Int
    var runMillis: Int
    /// Time the harness took to reopen and check the store.
    var checkMillis: Int
    var termination: ChildProcess.Termination
    /// The harness killed the worker (timed kill, or a failpoint that did not fire in time).
    var killedByHarness: Bool
    /// Operations the worker had started (its shared counter).
    var ops: UInt64
    /// Fields of the worker's last status line (`key=value`).
    var status: [String: String]
    /// The worker's last `stop:`, `violation:` or `error:` line.
    var finalLine: String?
    var arm: FailpointPlan.Arm?
    var fired: Bool
    /// Acknowledged and aborted epochs of the oracle this iteration.
    var ackedEpochs: Int
    var abortedEpochs: Int
    var tornBytes: Int
    /// Problems with the worker's ending or the oracle (not the store's state).
    var workerProblems: [String]
    var report: RecoveryReport
    /// With `--zombie`: the zombie, the takeover and the compactor (the worker above is the successor).
    var zombie: ZombieReport?

    var crashedAtFailpoint: Bool { arm?.kind == .crash && fired }
    var isClean: Bool { report.isClean && workerProblems.isEmpty && (zombie?.isClean ?? true) }
    /// Committed epochs lost: by the recovery after the kill, or by the successor's takeover.
    var lostEpochs: [UInt64] { (zombie?.takeoverCheck.lostEpochs ?? []) + report.lostEpochs }
    /// Epochs a fenced zombie acknowledged above the successor's takeover epoch.
    var zombieAcks: [UInt64] { zombie?.afterResume.acksAboveTakeover ?? [] }
    /// A failure other than a lost or partially visible epoch or a zombie's acknowledged
    /// commit. Every iteration that is not clean counts as at least one kind, so a run
    /// with one never passes.
    var isVerificationFailure: Bool {
        !workerProblems.isEmpty || !report.wrongKeys.isEmpty || !report.problems.isEmpty || !(zombie?.otherProblems.isEmpty ?? true)
            || (!isClean && lostEpochs.isEmpty && report.partialKeys.isEmpty && zombieAcks.isEmpty)
    }

    var endedHow: String {
        if killedByHarness { return arm == nil ? "killed" : "timeout-killed" }
        if crashedAtFailpoint { return "failpoint-crash" }
        if case .exited(CrashtestWorkerCommand.exitStopped) = termination, finalLine?.hasPrefix("stop: ") == true { return "stopped" }
        return "\(termination)"
    }

    /// The one-line summary printed per iteration.
    func line(compactionsAdded: UInt64?) -> String {
        var s = "#\(iteration)".padded(7) + "\(runMillis) ms".rightAligned(9) + endedHow.padded(16)
        if let r = report.recovered {
            s += "R \(r)".padded(9) + "acked \(report.lastAcked)".padded(12) + "attempted \(report.lastAttempted)".padded(16)
        } else {
            s += "R ?".padded(37)
        }
        s += "keys \(report.keysChecked) rows \(report.rowsScanned)".padded(20)
        if let alt = report.alternative {
            s += "alt \(alt.epoch):\(alt.differingKeys)".padded(14)
        } else {
            s += "alt -".padded(14)
        }
        s += "ops \(ops)".padded(11)
        s += (compactionsAdded.map { "compactions +\($0)" } ?? "compactions \(report.compactions)").padded(17)
        if let gc = status["gc"] { s += "gc \(gc)".padded(7) }
        s += "check \(checkMillis) ms".padded(15)
        if tornBytes > 0 { s += "torn \(tornBytes) B  " }
        if let arm { s += "\(arm.label) " + (fired ? "fired" : "NOT FIRED") }
        if let zombie { s += zombie.summary }
        if !isClean { s += "  VIOLATION" }
        return s
    }
}

extension String {
    /// Right-aligned in `n` columns, then two spaces.
    fileprivate func rightAligned(_ n: Int) -> String { String(repeating: " ", count: max(0, n - count)) + self + "  " }
}
