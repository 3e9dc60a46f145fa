import Floe
import FloeS3
import FloeTesting
#if canImport(Glibc)
import Glibc
#endif

/// The parent loop of `floe crashtest`: per iteration, save the starting state,
/// start a worker, kill it (or let a failpoint end it), check the recovered
/// store against the oracle, cut the oracle back to the recovered epoch and go
/// on. Stops at the first violation, printing what differed and a replay command.
final class CrashtestRunner {
    let config: CrashtestConfig
    private var totals = CrashtestTotals()
    /// Per sweep combination (index into `FailpointPlan.combinations`): times armed and fired.
    private var sweep: [Int: (armed: Int, fired: Int)] = [:]
    private var lastCompactions: UInt64?
    private var root = ""

    init(_ config: CrashtestConfig) {
        self.config = config
    }

    /// Runs the iterations; returns whether the run passed. Throws `CrashtestError`
    /// (or a file error) when the harness itself cannot go on.
    func run() async throws -> Bool {
        let dir = config.directory
        let first = config.startIteration ?? 0
        var count = config.iterations
        if config.failpoints && config.startIteration == nil { count = max(count, FailpointPlan.combinations.count) }
        try await prepare(first)
        if config.zombie != nil { totals.zombie = ZombieTotals() }
        say(header(first: first, count: count))
        let started = Self.monotonicMillis()
        for i in first..<(first + count) {
            // A store on S3 has no saved copy: a replay starts from an empty store.
            if config.storeURL == nil { try dir.savePreIteration(replayPoint(i)) }
            let result = config.zombie != nil ? try await ZombieRound(config: config, iteration: i).run() : try await runIteration(i)
            // A replay starts from a store with history: its first count is not this run's.
            let added = lastCompactions.map { result.report.compactions &- $0 }
            lastCompactions = result.report.compactions
            totals.add(result, compactionsAdded: added ?? 0)
            if let arm = result.arm, let index = FailpointPlan.combinations.firstIndex(where: { $0 == (arm.point, arm.kind) }) {
                var s = sweep[index] ?? (0, 0)
                s.armed += 1
                if result.fired { s.fired += 1 }
                sweep[index] = s
            }
            say(result.line(compactionsAdded: added))
            guard result.isClean, let expected = result.report.expected, let epoch = result.report.recovered else {
                say(violation(result))
                break
            }
            // The next worker starts from R: the oracle becomes the verified state at R.
            try OracleLog.rewrite(dir.oracle, [.base(epoch: epoch, metadata: expected.metadata, rows: expected.state)])
        }
        totals.wallSeconds = Double(Self.monotonicMillis() - started) / 1000
        if config.failpoints { say(sweepSummary(complete: config.startIteration == nil)) }
        say("")
        for line in totals.lines { say(line) }
        return totals.passed
    }

    // MARK: one iteration

    private func runIteration(_ i: Int) async throws -> CrashtestIteration {
        let dir = config.directory
        let arm = config.failpoints ? FailpointPlan.arm(seed: config.seed, iteration: i) : nil
        var args = config.workerArguments(iteration: i, oracle: dir.oracle, opsCounter: dir.opsCounter)
        if let k = config.killAfterOps { args += ["--kill-after-ops", "\(k)"] }
        if let arm { args += ["--failpoint", arm.point.rawValue] }
        if let s = config.sabotage { args += ["--sabotage", s.rawValue] }
        let environment = arm.map { [Failpoints.environmentVariable: $0.environment] } ?? [:]
        unlink(dir.opsCounter)

        // A timed kill, unless the worker is to end by itself (failpoint, --kill-after-ops):
        // then the limit only catches a worker that never does.
        let limitMillis: Int
        if arm != nil {
            limitMillis = Int(config.failpointTimeoutSeconds * 1000)
        } else if config.killAfterOps != nil || config.sabotage != nil {
            limitMillis = 600_000
        } else {
            var rng = CrashtestWorkload.rng(seed: config.seed, iteration: i, .killDelay)
            limitMillis = config.minRunMs + Int(rng.next() % UInt64(config.maxRunMs - config.minRunMs + 1))
        }
        let started = Self.monotonicMillis()
        let child = try ChildProcess(executable: config.executable, arguments: args, environment: environment,
                                     outputFiles: (dir.workerStdout, dir.workerStderr))
        var termination: ChildProcess.Termination
        var killed = false
        while true {
            if let t = child.exitIfEnded() {
                termination = t
                break
            }
            if Self.monotonicMillis() - started >= UInt64(limitMillis) {
                termination = child.killAndWait()
                killed = termination == .signalled(SIGKILL)
                break
            }
            usleep(500)
        }
        let runMillis = Int(Self.monotonicMillis() - started)

        let transcript = WorkerTranscript(stdoutPath: dir.workerStdout, stderrPath: dir.workerStderr)
        let (status, finalLine) = (transcript.status, transcript.finalLine)
        let crashed = arm.map { transcript.stderr.contains(FailpointPlan.crashMessage($0.point)) } ?? false
        let fired: Bool
        switch arm?.kind {
        case .crash?: fired = crashed
        case .error?: fired = (status[FailpointPlan.firedField].flatMap { Int($0) } ?? 0) > 0
        default: fired = false
        }
        var problems = transcript.problems(termination, killed: killed, crashedAtFailpoint: crashed)

        let history: OracleHistory
        do {
            history = try OracleHistory(OracleLog.read(dir.oracle))
        } catch {
            problems.append("\(error)")
            var report = RecoveryReport(lastAcked: 0, lastAttempted: 0, openEpoch: nil)
            report.problems.append("the oracle cannot be read, so the store was not checked")
            return CrashtestIteration(iteration: i, runMillis: runMillis, checkMillis: 0, termination: termination, killedByHarness: killed,
                                      ops: SharedCounter.read(path: dir.opsCounter) ?? 0, status: status, finalLine: finalLine,
                                      arm: arm, fired: fired, ackedEpochs: 0, abortedEpochs: 0, tornBytes: 0,
                                      workerProblems: problems, report: report)
        }
        let checkStarted = Self.monotonicMillis()
        let report = await recoveryCheck(history)
        return CrashtestIteration(
            iteration: i, runMillis: runMillis, checkMillis: Int(Self.monotonicMillis() - checkStarted),
            termination: termination, killedByHarness: killed,
            ops: SharedCounter.read(path: dir.opsCounter) ?? 0, status: status, finalLine: finalLine, arm: arm, fired: fired,
            ackedEpochs: history.steps.filter { $0.outcome == .acked }.count,
            abortedEpochs: history.steps.filter { $0.outcome == .aborted }.count,
            tornBytes: history.tornBytes, workerProblems: problems, report: report)
    }

    /// The oracle's check of the recovered store, local or on S3 (a new client each time, as a new process would have).
    private func recoveryCheck(_ history: OracleHistory) async -> RecoveryReport {
        let check = config.workload.recoveryCheck
        guard let url = config.storeURL else { return await check.run(storePath: config.directory.store, history: history) }
        let objects: any ObjectStore
        do {
            objects = try FloeStoreURL.objectStore(for: url)
        } catch {
            var report = RecoveryReport(lastAcked: history.lastAcked, lastAttempted: history.lastAttempted, openEpoch: nil)
            report.problems.append("the store at \(url) cannot be opened: \(error)")
            return report
        }
        let report = await check.run(objectStore: objects, history: history)
        try? await (objects as? S3ObjectStore)?.shutdown()
        return report
    }

    // MARK: set-up and reports

    private func replayPoint(_ i: Int) -> CrashtestDirectory.ReplayPoint {
        .init(seed: config.seed, iteration: i, keys: config.workload.keyCount, failpoints: config.failpoints, zombie: config.zombie != nil)
    }

    private func prepare(_ first: Int) async throws {
        let dir = config.directory
        if let url = config.storeURL {
            try dir.startFresh()
            let removed = try await RemoteStoreScratch.empty(url)
            if removed > 0 { say("emptied the store at \(url): \(removed) objects removed") }
            lastCompactions = 0
            root = Self.absolute(dir.root)
            if let first = config.startIteration, first > 0 {
                say("a store on S3 keeps no saved state: iteration \(first) starts from an empty store "
                    + "(the same workload, from a different starting state)")
            }
            return
        }
        if config.startIteration != nil, let saved = dir.savedReplayPoint() {
            if saved == replayPoint(first) {
                try dir.restoreReplay()
                root = Self.absolute(dir.root)
                say("replaying from the state saved before iteration \(first) in \(root)/replay")
                return
            }
            try dir.startFresh()
            lastCompactions = 0
            root = Self.absolute(dir.root)
            say("the saved state in \(root)/replay is for \(saved), not \(replayPoint(first)): starting from an empty store "
                + "(iteration \(first) runs the same workload, from a different starting state)")
            return
        }
        try dir.startFresh()
        lastCompactions = 0
        root = Self.absolute(dir.root)
        if let first = config.startIteration, first > 0 {
            say("no saved state for iteration \(first): starting from an empty store "
                + "(the iteration runs the same workload, from a different starting state)")
        }
    }

    private func header(first: Int, count: Int) -> String {
        var mode: String
        if config.failpoints {
            mode = "failpoint sweep (\(FailpointPlan.combinations.count) combinations, timeout \(fmt(config.failpointTimeoutSeconds, 0)) s)"
        } else if let z = config.zombie {
            mode = "zombie: writer paused after \(z.minRunMs)...\(z.maxRunMs) ms, successor writes \(z.minPausedMs)...\(z.maxPausedMs) ms "
                + "before the resume, compactor GC grace \(z.minCompactorGraceMs)...\(z.maxCompactorGraceMs) ms"
        } else if let k = config.killAfterOps {
            mode = "workers stop after \(k) operations"
        } else {
            mode = "SIGKILL after \(config.minRunMs)...\(config.maxRunMs) ms"
        }
        if let s = config.sabotage { mode += ", SABOTAGE \(s.rawValue) (harness self-check)" }
        if let url = config.storeURL { mode += ", store \(url)" }
        return "floe crashtest: \(root), seed \(config.seed), iterations \(first)..<\(first + count), "
            + "\(config.workload.keyCount) keys, \(mode)"
    }

    private func violation(_ r: CrashtestIteration) -> String {
        var out = ["", "VIOLATION in iteration \(r.iteration) (seed \(config.seed))"]
        func list(_ title: String, _ items: [String]) {
            for item in items.prefix(5) { out.append("  \(title): \(item)") }
            if items.count > 5 { out.append("  \(title): ... \(items.count - 5) more") }
        }
        let rep = r.report
        if let z = r.zombie, !z.takeoverCheck.lostEpochs.isEmpty {
            out.append("  lost committed epochs: \(z.takeoverCheck.lostEpochs.map(String.init).joined(separator: ", ")) were verified "
                + "or acknowledged by the zombie, the successor took the store over at epoch \(z.takeover.map(String.init) ?? "?")")
        }
        if !rep.lostEpochs.isEmpty {
            let below = rep.recovered.map { $0 < rep.baseEpoch } ?? false
            out.append("  lost committed epochs: \(rep.lostEpochs.map(String.init).joined(separator: ", ")) were "
                + (below ? "verified before this iteration (base \(rep.baseEpoch)) or acknowledged" : "acknowledged")
                + ", the store recovered epoch \(rep.recovered.map(String.init) ?? "?")")
        }
        if let z = r.zombie, !z.afterResume.acksAboveTakeover.isEmpty {
            let acks = z.afterResume.acksAboveTakeover
            out.append("  a fenced writer's commit succeeded: the zombie acknowledged \(acks.count == 1 ? "epoch" : "epochs") "
                + "\(ZombieReport.epochs(acks, limit: 10)) "
                + "after its resume, above the successor's takeover epoch \(z.takeover.map(String.init) ?? "?")")
        }
        list("partially visible", rep.partialKeys)
        list("wrong", rep.wrongKeys)
        list("problem", rep.problems)
        list("worker", r.workerProblems)
        if let z = r.zombie { list("zombie", z.otherProblems) }
        if out.count == 2 { out.append("  problem: the recovered store was not checked against the oracle") }
        if let z = r.zombie { out.append("  zombie: \(z.summary); its last line: \(z.zombieEnd ?? "(none)")") }
        if let arm = r.arm { out.append("  failpoint armed: \(Failpoints.environmentVariable)=\(arm.environment)") }
        if let url = config.storeURL {
            out.append("  the store and oracle as the check found them: \(url), \(root)/oracle.log "
                + "(no saved state before this iteration: a replay on S3 starts from an empty store)")
        } else {
            out.append("  the store and oracle as the check found them: \(root)/store, \(root)/oracle.log; "
                + "the state before this iteration: \(root)/replay")
        }
        var replay = "\(config.executable) crashtest --path \(root) --seed \(config.seed) --iteration \(r.iteration) --iterations 1 "
            + "--keys \(config.workload.keyCount)"
        if let url = config.storeURL { replay += " --store-url '\(url)'" }
        if config.failpoints { replay += " --failpoints" }
        if let z = config.zombie {
            replay += " --zombie --min-run-ms \(z.minRunMs) --max-run-ms \(z.maxRunMs) --min-paused-ms \(z.minPausedMs) "
                + "--max-paused-ms \(z.maxPausedMs) --min-compactor-grace-ms \(z.minCompactorGraceMs) "
                + "--max-compactor-grace-ms \(z.maxCompactorGraceMs)"
        }
        if let k = config.killAfterOps {
            replay += " --kill-after-ops \(k)"
        } else if r.killedByHarness && r.arm == nil && config.zombie == nil {
            replay += " --kill-after-ops \(r.ops)"
        }
        if let s = config.sabotage { replay += " --sabotage \(s.rawValue)" }
        out.append("  replay: \(replay)")
        if config.zombie != nil {
            out.append("  (the replay makes the same seeded choices: pause kind, delays, options; "
                + "where exactly the pause and the kills land is up to the scheduler)")
        } else if r.killedByHarness && r.arm == nil && config.killAfterOps == nil {
            out.append("  (the kill landed during operation \(r.ops): --kill-after-ops \(r.ops) runs it to its end, "
                + "\(max(1, r.ops) - 1) stops before it; without the option the replay kills at the same delay, "
                + "which is not exactly the same moment)")
        }
        return out.joined(separator: "\n")
    }

    /// The sweep table; counts combinations that never fired (or, in a full run, were never armed).
    private func sweepSummary(complete: Bool) -> String {
        var out = ["", "failpoint sweep (fired/armed)", "  " + "failpoint".padded(30) + "crash".padded(8) + "error"]
        var unfired = 0
        for point in Failpoint.allCases {
            var row = "  " + point.rawValue.padded(30)
            for kind in FailpointPlan.kinds {
                let index = FailpointPlan.combinations.firstIndex { $0 == (point, kind) }!
                let s = sweep[index] ?? (0, 0)
                if s.fired == 0 && (s.armed > 0 || complete) { unfired += 1 }
                row += "\(s.fired)/\(s.armed)".padded(8)
            }
            out.append(row)
        }
        totals.unfiredFailpoints = unfired
        out.append(unfired == 0 ? "sweep: every armed failpoint fired" : "sweep: FAILED, \(unfired) failpoint combinations never fired")
        return out.joined(separator: "\n")
    }

    private func say(_ line: String) {
        print(line)
        fflush(nil)
    }

    private static func absolute(_ path: String) -> String {
        guard let p = realpath(path, nil) else { return path }
        defer { free(p) }
        return String(cString: p)
    }

    /// The part of a worker's stderr that says why it died: Swift's fatal-error
    /// line, the backtracer's headline and the crashed thread's first frames.
    /// The register dump and image list that end a backtrace say nothing useful
    /// in a report, so they are left to the worker's `.err` file.
    static func crashExcerpt(_ err: String, frames: Int = 16) -> String {
        let lines = err.split(separator: "\n", omittingEmptySubsequences: false)
        var picked: [Substring] = []
        var i = 0
        while i < lines.count {
            let line = lines[i]
            if line.contains("Fatal error") || line.hasPrefix("***") || line.hasPrefix("floe: failpoint") {
                picked.append(line)
            } else if line.hasPrefix("Thread") && line.hasSuffix("crashed:") {
                picked.append(line)
                var j = i + 1
                while j < lines.count, j <= i + frames, !lines[j].isEmpty || j == i + 1 {
                    if !lines[j].isEmpty { picked.append(lines[j]) }
                    j += 1
                }
                i = j
                continue
            }
            i += 1
        }
        if picked.isEmpty { picked = Array(lines.filter { !$0.isEmpty }.suffix(5)) }
        return picked.map { "    " + $0 }.joined(separator: "\n")
    }

    static func monotonicMillis() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }
}
