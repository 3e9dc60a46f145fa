import Floe
import FloeTesting
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One iteration of `floe crashtest --zombie` (docs/crashtest.md, "Zombie mode"):
///
/// 1. the **zombie** (writer A, a `crashtest-worker` with `--zombie-control`) opens
///    the store at the oracle's verified epoch and writes epochs, logging them to
///    `DIR/oracle.log`; a standalone **compactor** (`floe compact --gc`, shaped like
///    the writers) starts beside it;
/// 2. after `ZombiePlan.runMillis` the zombie is paused (SIGSTOP) where the plan
///    says: anywhere, inside a commit, or right before one; its oracle is read as
///    it stands at the pause;
/// 3. the **successor** (writer B, `--takeover-from DIR/oracle.log`) opens the store,
///    which fences the zombie, and starts `DIR/successor.log` at the epoch R it found
///    committed; R must satisfy the zombie's bounds (`ZombieCheck.takeover`);
/// 4. after `pausedMillis` of the successor's commits (and its and the compactor's
///    GC and manifest pruning) the zombie is resumed (SIGCONT); it must end at its
///    first `fenced` error, and acknowledge no epoch above R (`ZombieCheck.afterResume`);
/// 5. the successor is SIGKILLed `successorKillMillis` after the resume, the
///    compactor gets SIGTERM, and the store is checked against the successor's
///    oracle by `RecoveryCheck` (state at the recovered epoch, `StoreVerifier`).
///
/// A step that does not happen in time (or a process that ends early) is a
/// problem of the iteration; what is still running is then killed and the store
/// checked all the same.
final class ZombieRound {
    /// Longest wait for a process to open the store or take it over.
    static let startLimitMillis: UInt64 = 60_000
    /// Longest wait for the zombie to reach its commit, or to stop once told to.
    static let pauseLimitMillis: UInt64 = 10_000
    /// The zombie must end on `fenced` within this long after its resume.
    static let zombieLimitMillis: UInt64 = 10_000
    /// With `--sabotage zombie-unfenced` nothing refuses the zombie: it is killed this long after its resume.
    static let unfencedZombieMillis: UInt64 = 1_000
    /// The compactor must exit this long after SIGTERM (it finishes its running task first).
    static let compactorStopLimitMillis: UInt64 = 5_000
    /// Milliseconds between a standalone compactor's polls when no task is due.
    static let compactorIntervalMs = 20

    let config: CrashtestConfig
    let iteration: Int
    let plan: ZombiePlan
    private let dir: CrashtestDirectory
    private var report: ZombieReport
    private var zombie: ChildProcess?
    private var zombieEnd: ChildProcess.Termination?
    /// The harness killed the zombie on purpose (only with `zombie-unfenced`), or because it did not end in time.
    private var zombieKilled = false
    private var resumed = false
    private var successor: ChildProcess?
    private var successorEnd: ChildProcess.Termination?
    private var successorKilled = false
    private var compactor: ChildProcess?
    private var compactorEnd: ChildProcess.Termination?
    private var compactorTermSent = false
    /// The zombie's oracle records while it was paused.
    private var pausedRecords: [OracleRecord]?

    init(config: CrashtestConfig, iteration: Int) {
        self.config = config
        self.iteration = iteration
        plan = ZombiePlan(seed: config.seed, iteration: iteration, bounds: config.zombie!)
        dir = config.directory
        report = ZombieReport(plan: plan)
    }

    /// Runs the iteration and checks it. Throws only when the harness itself cannot go on.
    func run() async throws -> CrashtestIteration {
        for file in dir.processFiles { unlink(file) }
        let control = try ZombieControl(path: dir.zombieControl, create: true)
        let started = CrashtestRunner.monotonicMillis()
        zombie = try ChildProcess(
            executable: config.executable,
            arguments: config.workerArguments(iteration: iteration, oracle: dir.oracle, opsCounter: dir.zombieOps)
                + ["--zombie-control", dir.zombieControl],
            environment: [:], outputFiles: (dir.zombieStdout, dir.zombieStderr))
        try timeline(control)
        stopAll()
        let runMillis = Int(CrashtestRunner.monotonicMillis() - started)
        judgeProcesses()
        return try await check(runMillis: runMillis)
    }

    // MARK: the timeline

    /// Steps 1 to 5 up to the successor's kill; returns early, with a problem
    /// recorded, when a step does not happen.
    private func timeline(_ control: ZombieControl) throws {
        let zombie = zombie!
        // 1. The zombie opens the store: never paused before that (ZombieControl.Phase.starting).
        switch wait(Self.startLimitMillis, on: zombie, "it opened the store", until: { control.phase != .starting }) {
        case .done: break
        case .ended: return
        case .timedOut:
            report.problems.append("the zombie did not open the store within \(Self.startLimitMillis) ms")
            return
        }
        let opened = CrashtestRunner.monotonicMillis()
        let options = CrashtestWorkload.storeOptions(seed: config.seed, iteration: iteration).compaction
        compactor = try ChildProcess(
            executable: config.executable,
            arguments: ["compact", "--path", dir.store, "--gc", "--gc-grace-seconds", "\(plan.compactorGraceSeconds)",
                        "--interval-ms", "\(Self.compactorIntervalMs)", "--parent-pid", "\(getpid())"]
                + CompactCommand.shapeArguments(matching: options),
            environment: [:], outputFiles: (dir.compactorStdout, dir.compactorStderr))

        // 2. The pause.
        if wait(UInt64(plan.runMillis), on: zombie, "its pause", from: opened) == .ended { return }
        switch plan.pause {
        case .anywhere:
            zombie.send(SIGSTOP)
        case .inCommit:
            // If no commit starts in time the pause lands wherever the zombie is.
            switch wait(Self.pauseLimitMillis, on: zombie, "its pause", pollMicros: 100, until: { control.phase == .committing }) {
            case .done: usleep(UInt32(plan.commitDelayMicros))
            case .timedOut: break
            case .ended: return
            }
            zombie.send(SIGSTOP)
        case .beforeCommit:
            control.pauseRequested = true
        }
        let stopDeadline = CrashtestRunner.monotonicMillis() + Self.pauseLimitMillis
        stopping: while true {
            switch zombie.pollStop() {
            case .stopped:
                break stopping
            case let .ended(t):
                zombieEnd = t
                report.problems.append("the zombie ended before its pause")
                return
            case .running:
                if CrashtestRunner.monotonicMillis() >= stopDeadline {
                    report.problems.append("the zombie did not stop within \(Self.pauseLimitMillis) ms of its pause")
                    return
                }
                usleep(100)
            }
        }
        report.pausedInCommit = control.phase == .committing
        let paused = try OracleLog.read(dir.oracle).records
        pausedRecords = paused
        let pausedHistory: OracleHistory
        do {
            pausedHistory = try OracleHistory(OracleLog.Contents(records: paused, tornBytes: 0))
        } catch {
            report.problems.append("the zombie's oracle at its pause: \(error)")
            return
        }
        let newestAtPause = Self.manifestSequences(dir.store).newest

        // 3. The takeover.
        var args = config.workerArguments(iteration: iteration, oracle: dir.successorOracle, opsCounter: dir.opsCounter)
            + ["--takeover-from", dir.oracle]
        if let s = config.sabotage { args += ["--sabotage", s.rawValue] }
        let successor = try ChildProcess(executable: config.executable, arguments: args, environment: [:],
                                         outputFiles: (dir.workerStdout, dir.workerStderr))
        self.successor = successor
        switch wait(Self.startLimitMillis, on: successor, "it took the store over", until: { self.successorBase() != nil }) {
        case .done: break
        case .ended: return
        case .timedOut:
            report.problems.append("the successor did not take the store over within \(Self.startLimitMillis) ms")
            return
        }
        let takeover = successorBase()!
        report.takeover = takeover
        report.takeoverCheck = ZombieCheck.takeover(paused: pausedHistory, recovered: takeover)

        // 4. The successor writes while the zombie stays paused, then the zombie resumes.
        if wait(UInt64(plan.pausedMillis), on: successor, "the zombie's resume") == .ended { return }
        report.prunedPastZombie = (Self.manifestSequences(dir.store).oldestDelta ?? 0) > (newestAtPause ?? UInt64.max)
        control.resumed = true
        zombie.send(SIGCONT)
        resumed = true
        let resumedAt = CrashtestRunner.monotonicMillis()

        // 5. The successor is killed at its time; the zombie must end by itself.
        let zombieLimit = config.sabotage == .zombieUnfenced ? Self.unfencedZombieMillis : Self.zombieLimitMillis
        while true {
            let t = CrashtestRunner.monotonicMillis() - resumedAt
            if successorEnd == nil, let end = successor.exitIfEnded() {
                successorEnd = end
            } else if successorEnd == nil && t >= UInt64(plan.successorKillMillis) {
                successorEnd = successor.killAndWait()
                successorKilled = true
            }
            if zombieEnd == nil { zombieEnd = zombie.exitIfEnded() }
            if zombieEnd == nil && t >= zombieLimit {
                zombieEnd = zombie.killAndWait()
                zombieKilled = true
                if config.sabotage != .zombieUnfenced {
                    report.problems.append("the zombie was still running \(zombieLimit) ms after its resume: nothing refused it")
                }
            }
            if successorEnd != nil && zombieEnd != nil { return }
            usleep(500)
        }
    }

    private enum WaitResult { case done, timedOut, ended }

    /// Polls every `pollMicros` until `done` holds, `limitMillis` after `from`
    /// (default: now) pass, or `child` (the zombie or the successor) ends: its
    /// termination is then recorded, with a problem saying it ended before `before`.
    private func wait(_ limitMillis: UInt64, on child: ChildProcess, _ before: String, from: UInt64? = nil,
                      pollMicros: UInt32 = 500, until done: () -> Bool = { false }) -> WaitResult {
        let deadline = (from ?? CrashtestRunner.monotonicMillis()) + limitMillis
        while true {
            if done() { return .done }
            if let t = child.exitIfEnded() {
                let who: String
                if child === zombie {
                    zombieEnd = t
                    who = "zombie"
                } else {
                    successorEnd = t
                    who = "successor"
                }
                report.problems.append("the \(who) ended before \(before)")
                return .ended
            }
            if CrashtestRunner.monotonicMillis() >= deadline { return .timedOut }
            usleep(pollMicros)
        }
    }

    /// The epoch of the successor's oracle base, once it has written it.
    private func successorBase() -> UInt64? {
        guard case let .base(epoch, _, _)? = (try? OracleLog.read(dir.successorOracle))?.records.first else { return nil }
        return epoch
    }

    /// Kills the writers still running (SIGKILL; a paused zombie too) and stops the compactor (SIGTERM, then SIGKILL).
    private func stopAll() {
        if let successor, successorEnd == nil {
            successorEnd = successor.killAndWait()
            successorKilled = true
        }
        if let zombie, zombieEnd == nil {
            zombieEnd = zombie.killAndWait()
            zombieKilled = true
        }
        guard let compactor else { return }
        if let end = compactor.exitIfEnded() {
            compactorEnd = end
            return
        }
        compactor.send(SIGTERM)
        compactorTermSent = true
        let deadline = CrashtestRunner.monotonicMillis() + Self.compactorStopLimitMillis
        while compactorEnd == nil {
            compactorEnd = compactor.exitIfEnded()
            if compactorEnd == nil && CrashtestRunner.monotonicMillis() >= deadline {
                compactorEnd = compactor.killAndWait()
                report.problems.append("the compactor did not stop within \(Self.compactorStopLimitMillis) ms of SIGTERM")
            }
            usleep(500)
        }
    }

    // MARK: the checks

    /// How the zombie and the compactor ended, and the zombie's records after its resume.
    private func judgeProcesses() {
        let zombieOut = WorkerTranscript(stdoutPath: dir.zombieStdout, stderrPath: dir.zombieStderr)
        report.zombieEnd = zombieOut.finalLine
        report.staleReads = Int(zombieOut.status["stale_reads"] ?? "") ?? 0
        if resumed, let end = zombieEnd {
            let line = zombieOut.finalLine ?? ""
            if end == .exited(CrashtestWorkerCommand.exitFenced), line.hasPrefix(CrashtestWorkerCommand.fencedPrefix) {
                let what = line.dropFirst(CrashtestWorkerCommand.fencedPrefix.count)
                if what.hasPrefix("checkpoint") { report.commitRefused = true } else { report.writeRefused = true }
            } else if !zombieKilled {
                report.problems += zombieOut.problems(end, killed: false, crashedAtFailpoint: false).map { "zombie: " + $0 }
                if end == .exited(CrashtestWorkerCommand.exitStopped) {
                    report.problems.append("the zombie ended after its resume without a fenced error: \(line)")
                }
            }
        } else if let end = zombieEnd, !zombieKilled {
            report.problems += zombieOut.problems(end, killed: false, crashedAtFailpoint: false).map { "zombie: " + $0 }
        }
        if let takeover = report.takeover, let paused = pausedRecords {
            do {
                report.afterResume = ZombieCheck.afterResume(before: paused, now: try OracleLog.read(dir.oracle).records, takeover: takeover)
            } catch {
                report.afterResume.problems.append("the zombie's oracle after its resume: \(error)")
            }
        }
        let compactorOut = WorkerTranscript(stdoutPath: dir.compactorStdout, stderrPath: dir.compactorStderr)
        report.compactor = CompactorTranscript(compactorOut.stdout)
        // It ends on the SIGTERM (by the default action, before it installed its handler), or
        // was killed after ignoring it (a problem already); any other end is a failure.
        if let end = compactorEnd, !(compactorTermSent && [.exited(0), .signalled(SIGTERM), .signalled(SIGKILL)].contains(end)) {
            let tail = CrashtestRunner.crashExcerpt(compactorOut.stderr)
            report.problems.append("the compactor \(end)" + (compactorTermSent ? "" : " before it was stopped")
                + (tail.isEmpty ? "" : "; stderr:\n\(tail)"))
        }
    }

    /// `RecoveryCheck` against the successor's oracle (the zombie's, if the successor never took over).
    private func check(runMillis: Int) async throws -> CrashtestIteration {
        let successorOut = WorkerTranscript(stdoutPath: dir.workerStdout, stderrPath: dir.workerStderr)
        report.successorGC = Int(successorOut.status["gc"] ?? "") ?? 0
        var problems: [String] = []
        if let end = successorEnd {
            problems = successorOut.problems(end, killed: successorKilled, crashedAtFailpoint: false).map { "successor: " + $0 }
        }
        let oracle = report.takeover == nil ? dir.oracle : dir.successorOracle
        let history: OracleHistory
        do {
            history = try OracleHistory(OracleLog.read(oracle))
        } catch {
            var r = RecoveryReport(lastAcked: 0, lastAttempted: 0, openEpoch: nil)
            r.problems.append("\(error); the store was not checked")
            return iteration(runMillis: runMillis, checkMillis: 0, successorOut, problems, history: nil, r)
        }
        let checkStarted = CrashtestRunner.monotonicMillis()
        let r = await config.workload.recoveryCheck.run(storePath: dir.store, history: history)
        return iteration(runMillis: runMillis, checkMillis: Int(CrashtestRunner.monotonicMillis() - checkStarted), successorOut,
                         problems, history: history, r)
    }

    private func iteration(runMillis: Int, checkMillis: Int, _ successorOut: WorkerTranscript, _ problems: [String],
                           history: OracleHistory?, _ r: RecoveryReport) -> CrashtestIteration {
        CrashtestIteration(
            iteration: iteration, runMillis: runMillis, checkMillis: checkMillis,
            termination: successorEnd ?? zombieEnd ?? .exited(0), killedByHarness: successorKilled,
            ops: SharedCounter.read(path: dir.opsCounter) ?? 0, status: successorOut.status, finalLine: successorOut.finalLine,
            arm: nil, fired: false, ackedEpochs: history?.steps.filter { $0.outcome == .acked }.count ?? 0,
            abortedEpochs: history?.steps.filter { $0.outcome == .aborted }.count ?? 0, tornBytes: history?.tornBytes ?? 0,
            workerProblems: problems, report: r, zombie: report)
    }

    /// The newest manifest sequence (delta or checkpoint) and the oldest delta listed in `store`'s `manifest/`.
    static func manifestSequences(_ store: String) -> (newest: UInt64?, oldestDelta: UInt64?) {
        let names = (try? StoreMirror.files(under: store + "/manifest").keys.map { $0 }) ?? []
        var newest: UInt64?, oldestDelta: UInt64?
        for name in names {
            guard let dot = name.firstIndex(of: "."), let seq = UInt64(name[..<dot]) else { continue }
            newest = max(newest ?? 0, seq)
            if name.hasSuffix(".delta") { oldestDelta = min(oldestDelta ?? .max, seq) }
        }
        return (newest, oldestDelta)
    }
}
