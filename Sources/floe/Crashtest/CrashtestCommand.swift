import ArgumentParser
import Floe
import FloeS3
#if canImport(Glibc)
import Glibc
#endif

/// `floe crashtest`: the black-box crash-consistency harness (docs/crashtest.md).
struct CrashtestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crashtest",
        abstract: "Kill a writer again and again and check that every recovered store matches an independent oracle.",
        discussion: """
            Each iteration starts a worker process (a hidden subcommand of this binary) that runs a seeded \
            workload on the store in PATH/store with background compaction and GC, logging every epoch it \
            commits to PATH/oracle.log (fsynced before the commit, acknowledged after it). The worker is \
            SIGKILLed after a random delay (or, with --failpoints, dies at or handles an armed failpoint); \
            the store is then reopened and must hold exactly the oracle's state at a committed epoch R with \
            last acknowledged <= R <= last attempted, and pass `floe verify`. The next worker continues from R.

            The workload of an iteration depends on (seed, iteration) only; the kill moment is the only other \
            input. A violation prints an exact replay command: --iteration I replays iteration I from the \
            state saved before it, and --kill-after-ops N makes the worker stop itself after N operations \
            instead of being killed at a time, which makes the replay deterministic (up to the timing of \
            background compaction). Exits 1 on any violation or, with --failpoints, if a failpoint never fired.

            --zombie keeps a zombie writer beside the live one: each iteration pauses the writer (SIGSTOP; \
            sometimes inside a commit), lets a successor writer open the store (fencing it) and write beside a \
            standalone `floe compact --gc`, resumes the paused writer, which must be refused (its acknowledged \
            epochs must stay at or below the successor's takeover epoch), kills the successor and checks the \
            store against the successor's oracle.

            --power-loss runs a different loop in this process, needing no PATH: each iteration writes epochs \
            into a store on a simulated file system, cuts the power at a random file-system call, keeps only \
            what was fsynced (directory entries only after a directory fsync), reopens and checks the same \
            rule against an in-memory model (docs/power-loss.md). Iteration i uses seed S+i.

            --store-url s3://bucket/prefix?endpoint=... puts the store on S3 (emptied first) instead of in \
            PATH/store; the oracle and the workers' files stay in PATH. Timed kills only (no --failpoints, \
            --zombie or --sabotage below-verified), and no state is saved for --iteration: a replay starts from \
            an empty store (docs/s3.md).
            """)

    @Option(help: ArgumentHelp("Working directory: created if absent; must be empty or an earlier crashtest directory.",
                               valueName: "dir"))
    var path: String?
    @Flag(help: "Simulated power cuts below the local object store instead of process kills (no --path; docs/power-loss.md).")
    var powerLoss = false
    @Option(help: "Iterations (worker runs) to do.") var iterations: Int = 100
    @Option(help: "Seed of every random choice.") var seed: UInt64 = 1
    @Flag(help: "Sweep every failpoint, as a crash and as an error, instead of timed kills (at least \(FailpointPlan.combinations.count) iterations).")
    var failpoints = false
    @Option(help: "Keys in the universe the workload writes (over two tables).") var keys: Int = 400
    @Option(help: "Shortest worker run before the kill, milliseconds.") var minRunMs: Int = 100
    @Option(help: "Longest worker run before the kill, milliseconds.") var maxRunMs: Int = 600
    @Option(help: "Start at this iteration; replays it from the state saved before it when PATH holds that state.")
    var iteration: Int?
    @Option(help: "The worker stops itself (exit 137) before operation N+1 instead of being killed at a random time.")
    var killAfterOps: UInt64?
    @Option(help: "With --failpoints: seconds to wait for the armed point to fire before killing the worker.")
    var failpointTimeout: Double = 60
    @Option(help: ArgumentHelp("Harness self-check: make the worker break the oracle protocol (lost-ack, unlogged-write).",
                               visibility: .hidden))
    var sabotage: CrashtestSabotage?
    @Flag(help: "Pause the writer, let a successor take the store over beside a standalone compactor, resume the paused writer (a zombie) and check it is refused.")
    var zombie = false
    @Option(help: "With --zombie: shortest time the successor writes while the zombie is paused, milliseconds (default \(ZombiePlan.Bounds.defaultPausedMs.min)).")
    var minPausedMs: Int?
    @Option(help: "With --zombie: longest time the successor writes while the zombie is paused, milliseconds (default \(ZombiePlan.Bounds.defaultPausedMs.max)).")
    var maxPausedMs: Int?
    @Option(help: "With --zombie: shortest GC grace of the compactor, milliseconds (default \(ZombiePlan.Bounds.defaultCompactorGraceMs.min)).")
    var minCompactorGraceMs: Int?
    @Option(help: "With --zombie: longest GC grace of the compactor, milliseconds (default \(ZombiePlan.Bounds.defaultCompactorGraceMs.max)).")
    var maxCompactorGraceMs: Int?
    @Option(help: ArgumentHelp("Put the store on S3 (s3://bucket/prefix?endpoint=...&region=...), emptied first; PATH keeps the oracle and logs.",
                               valueName: "url"))
    var storeURL: String?
    @OptionGroup var logging: LogLevelOption

    func validate() throws {
        guard iterations >= 1, iterations <= 1_000_000_000 else { throw ValidationError("--iterations must be in 1...1000000000") }
        guard keys >= 2, keys <= 1_000_000 else { throw ValidationError("--keys must be in 2...1000000") }
        guard minRunMs >= 0 else { throw ValidationError("--min-run-ms must not be negative") }
        guard maxRunMs >= minRunMs else { throw ValidationError("--max-run-ms must be at least --min-run-ms") }
        guard maxRunMs <= 3_600_000 else { throw ValidationError("--max-run-ms must be at most 3600000") }
        guard (0...1_000_000_000).contains(iteration ?? 0) else { throw ValidationError("--iteration must be in 0...1000000000") }
        guard (killAfterOps ?? 1) >= 1 else { throw ValidationError("--kill-after-ops must be at least 1") }
        guard failpointTimeout > 0, failpointTimeout <= 86_400 else { throw ValidationError("--failpoint-timeout must be in (0, 86400] seconds") }
        let zombieOptions = [minPausedMs, maxPausedMs, minCompactorGraceMs, maxCompactorGraceMs]
        if zombie {
            guard !failpoints else { throw ValidationError("--zombie and --failpoints are separate modes: give one") }
            guard killAfterOps == nil else {
                throw ValidationError("--kill-after-ops does not apply to --zombie (its writers are paused and killed at seeded times)")
            }
            if let s = sabotage, s != .zombieUnfenced { throw ValidationError("--zombie takes only --sabotage zombie-unfenced") }
            let b = zombieBounds
            guard b.minPausedMs >= 0 else { throw ValidationError("--min-paused-ms must not be negative") }
            guard b.maxPausedMs >= b.minPausedMs else { throw ValidationError("--max-paused-ms must be at least --min-paused-ms") }
            guard b.maxPausedMs <= 3_600_000 else { throw ValidationError("--max-paused-ms must be at most 3600000") }
            guard b.minCompactorGraceMs >= 0 else { throw ValidationError("--min-compactor-grace-ms must not be negative") }
            guard b.maxCompactorGraceMs >= b.minCompactorGraceMs else {
                throw ValidationError("--max-compactor-grace-ms must be at least --min-compactor-grace-ms")
            }
            guard b.maxCompactorGraceMs <= 3_600_000 else { throw ValidationError("--max-compactor-grace-ms must be at most 3600000") }
        } else {
            if sabotage == .zombieUnfenced { throw ValidationError("--sabotage zombie-unfenced needs --zombie") }
            if zombieOptions.contains(where: { $0 != nil }) {
                throw ValidationError("--min-paused-ms, --max-paused-ms, --min-compactor-grace-ms and --max-compactor-grace-ms apply only to --zombie")
            }
        }
        if powerLoss {
            guard path == nil, storeURL == nil, !failpoints, !zombie, iteration == nil, killAfterOps == nil, sabotage == nil else {
                throw ValidationError("--power-loss runs in memory: it takes only --iterations and --seed")
            }
            return
        }
        guard let path else { throw ValidationError("--path is required (except with --power-loss)") }
        if FloeStoreURL.isURL(path) {
            throw ValidationError("--path is the local working directory (oracle, logs); put a store on S3 with --store-url \(path)")
        }
        if let storeURL {
            guard FloeStoreURL.isRemote(storeURL) else { throw ValidationError("--store-url takes an s3:// URL; a local store goes in --path") }
            do { _ = try FloeStoreURL.parse(storeURL) } catch { throw ValidationError("--store-url: \(error)") }
            guard !failpoints, !zombie else {
                throw ValidationError("--store-url runs timed kills only: --failpoints and --zombie need the store in --path")
            }
            if sabotage == .belowVerified {
                throw ValidationError("--sabotage below-verified copies the store's files: it needs the store in --path")
            }
        }
        if let problem = CrashtestDirectory.problem(with: path) { throw ValidationError(problem) }
        if getenv(Failpoints.environmentVariable) != nil {
            throw ValidationError("\(Failpoints.environmentVariable) is set; floe crashtest arms failpoints in its workers itself "
                + "(--failpoints), and its own checks must run without them: unset it")
        }
    }

    /// The bounds of `--zombie`'s seeded timings: the options given, else the defaults.
    private var zombieBounds: ZombiePlan.Bounds {
        ZombiePlan.Bounds(minRunMs: minRunMs, maxRunMs: maxRunMs,
                          minPausedMs: minPausedMs ?? min(ZombiePlan.Bounds.defaultPausedMs.min, maxPausedMs ?? .max),
                          maxPausedMs: maxPausedMs ?? max(minPausedMs ?? 0, ZombiePlan.Bounds.defaultPausedMs.max),
                          minCompactorGraceMs: minCompactorGraceMs ?? min(ZombiePlan.Bounds.defaultCompactorGraceMs.min, maxCompactorGraceMs ?? .max),
                          maxCompactorGraceMs: maxCompactorGraceMs ?? max(minCompactorGraceMs ?? 0, ZombiePlan.Bounds.defaultCompactorGraceMs.max))
    }

    func run() async throws {
        logging.install()
        if powerLoss {
            let (seed, iterations) = (self.seed, self.iterations)
            let start = Timer.nanos()
            let r = try await Task.detached { try await runPowerLossIterations(seed: seed, iterations: iterations) }.value
            let seconds = Double(Timer.nanos() - start) / 1e9
            print("power-loss: \(r.iterations) iterations, seeds \(seed)...\(seed &+ UInt64(iterations) &- 1); "
                + "lost committed epochs \(r.lostEpochs), partially visible epochs \(r.partialEpochs); \(fmt(seconds, 1)) s")
            if r.lostEpochs > 0 || r.partialEpochs > 0 { throw ExitCode(1) }
            return
        }
        let config = CrashtestConfig(
            directory: CrashtestDirectory(root: path!), iterations: iterations, seed: seed, failpoints: failpoints,
            workload: CrashtestWorkload(keyCount: keys), minRunMs: minRunMs, maxRunMs: maxRunMs,
            startIteration: iteration, killAfterOps: killAfterOps, failpointTimeoutSeconds: failpointTimeout,
            sabotage: sabotage, executable: ChildProcess.currentExecutable(), zombie: zombie ? zombieBounds : nil, storeURL: storeURL)
        let passed: Bool
        do {
            passed = try await Task.detached { try await CrashtestRunner(config).run() }.value
        } catch {
            InspectFormat.printError("crashtest: \(error)")
            throw ExitCode(1)
        }
        if !passed { throw ExitCode(1) }
    }
}
