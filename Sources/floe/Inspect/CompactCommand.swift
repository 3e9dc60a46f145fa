import ArgumentParser
import Floe
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `floe compact --path P`: a standalone compactor beside a live writer.
struct CompactCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Run a standalone compactor on a store directory, beside a live writer in another process.",
        discussion: """
            Attaches as a compactor session (a `register` manifest record that writers rebase \
            over: the writer is not fenced), then loops: run the most urgent compaction task, or \
            sleep --interval-ms when none is due, until SIGINT or SIGTERM. A signal lets the running \
            task finish, then the command prints a summary and exits 0; a second signal kills it. \
            Prints one line per task: kind, inputs, target level, outputs, elapsed time.

            A stale task (another compactor, or the writer's own background compaction, changed its \
            inputs first) is reported and the loop goes on; any other error exits 1. The writer should \
            run with background compaction off, or the two compete for the same files.

            The shape options must match the writer's StoreOptions.compaction; options are not stored \
            in the manifest.

            The session renews a lease object (leases/) every 5 seconds. A GC pass (the writer's or \
            another compactor's) that finds the lease older than its grace ends the session with an \
            `expire` manifest record before it deletes the session's uncommitted outputs; the next task \
            is then refused as stale and this command attaches again. On exit the session ends itself.

            --gc deletes SSTs under data/ that the current version does not reference, after each task \
            and, while idle, every quarter of the grace (at least every second, at most every minute). \
            It never deletes the live writer's uncommitted syncs (it cannot tell them from orphans), nor \
            another live compactor's outputs. This process cannot see the writer's snapshots or running \
            scans, so only the grace protects them: an SST this process saw referenced is deleted \
            --gc-grace-seconds after it first saw it unreferenced; any other unreferenced object \
            (retired before this process started, an orphan of a crashed upload) that long after its \
            modification time. The grace must exceed the longest snapshot or scan the writer holds; \
            a writer follows the manifest at least every second, so its plain reads move off retired \
            SSTs within that.
            """)

    @Option(help: "Store directory or URL (s3://bucket/prefix?..., docs/s3.md).") var path: String
    @Flag(help: "Run at most one task, then exit (0 whether or not a task was due).") var once = false
    @Option(help: "Sleep between polls when no task is due, in milliseconds.") var intervalMs: Int = 200
    @Flag(help: "Also delete unreferenced SSTs (see the discussion for the grace).") var gc = false
    @Option(help: "Seconds an unreferenced SST is kept before --gc deletes it; must exceed the writer's longest snapshot or scan.")
    var gcGraceSeconds: Double = 600
    @Option(help: "L0 sub-levels that trigger an L0 compaction (must match the writer).") var l0Trigger: Int?
    @Option(help: "Minimum target size of the base level in bytes (must match the writer).") var baseLevelBytes: Int?
    @Option(help: "Compaction output file size in bytes (must match the writer).") var targetFileSize: Int?
    @Option(help: "Size ratio between adjacent levels (must match the writer).") var levelSizeMultiplier: Int?
    @Option(help: "Deepest level (must match the writer).") var maxLevel: Int?
    @Option(help: "L0 sub-levels above which an intra-L0 merge is picked while the base level is busy (must match the writer).")
    var intraL0Trigger: Int?
    @Option(help: ArgumentHelp("End (as on SIGTERM) once this process is no longer the parent (used by floe crashtest).",
                               visibility: .hidden))
    var parentPid: Int32?
    @OptionGroup var logging: LogLevelOption
    @OptionGroup var metrics: MetricsOptions
    @Option(help: "TABLE=N: build a prefix filter of N bytes for the table's keys in output SSTs (repeat per table; must match the writer's prefixFilterLengths).")
    var prefixFilter: [String] = []

    func validate() throws {
        guard intervalMs >= 1 else { throw ValidationError("--interval-ms must be at least 1") }
        guard gcGraceSeconds >= 0 else { throw ValidationError("--gc-grace-seconds must not be negative") }
        if let l0Trigger, l0Trigger < 1 { throw ValidationError("--l0-trigger must be at least 1") }
        if let baseLevelBytes, baseLevelBytes < 4096 { throw ValidationError("--base-level-bytes must be at least 4096") }
        if let targetFileSize, targetFileSize < 4096 { throw ValidationError("--target-file-size must be at least 4096") }
        if let levelSizeMultiplier, levelSizeMultiplier < 2 { throw ValidationError("--level-size-multiplier must be at least 2") }
        if let maxLevel, !(1...32).contains(maxLevel) { throw ValidationError("--max-level must be in 1...32") }
        if let intraL0Trigger, intraL0Trigger < 2 { throw ValidationError("--intra-l0-trigger must be at least 2") }
        do { _ = try PrefixFilterSpec.parse(prefixFilter) } catch { throw ValidationError("--prefix-filter: \(error)") }
    }

    /// The shape options of `c` as `floe compact` options: what a compactor beside a
    /// writer with `c` must be given (the options are not stored in the manifest).
    static func shapeArguments(matching c: CompactionOptions) -> [String] {
        ["--l0-trigger", "\(c.l0CompactionTrigger)", "--intra-l0-trigger", "\(c.intraL0Trigger)",
         "--base-level-bytes", "\(c.baseLevelBytes)", "--target-file-size", "\(c.targetFileSize)",
         "--level-size-multiplier", "\(c.levelSizeMultiplier)", "--max-level", "\(c.maxLevel)"]
    }

    func run() async throws {
        let logger = logging.install()
        // Before the compactor attaches: it takes `MetricsSystem.factory` then.
        let endpoint = try await metrics.start(logger: logger)
        let inspector = try await InspectFormat.openStore(path)
        var options = CLILogging.storeOptions()
        if let l0Trigger { options.compaction.l0CompactionTrigger = l0Trigger }
        if let baseLevelBytes { options.compaction.baseLevelBytes = baseLevelBytes }
        if let targetFileSize { options.compaction.targetFileSize = targetFileSize }
        if let levelSizeMultiplier { options.compaction.levelSizeMultiplier = levelSizeMultiplier }
        if let maxLevel { options.compaction.maxLevel = maxLevel }
        if let intraL0Trigger { options.compaction.intraL0Trigger = intraL0Trigger }
        options.prefixFilterLengths = try PrefixFilterSpec.parse(prefixFilter)

        var config = CompactorService.Configuration()
        config.pollIntervalMillis = intervalMs
        config.collectGarbage = gc
        config.gcGraceSeconds = gcGraceSeconds
        config.once = once
        let summary = SummaryBox()
        let verbose = once, path = path
        let parent = parentPid
        let compactor = CompactorService(
            objectStore: inspector.objectStore, options: options, configuration: config,
            shouldStop: { parent.map { getppid() != $0 } ?? false },
            onEvent: { event in Self.report(event, into: summary, verbose: verbose) },
            onAttach: { c in
                let start = try await c.currentSummary()
                Self.emit(Self.attachedPrefix + "\(path) as compactor session \(c.sessionID) "
                    + "(committed epoch \(start.committedEpoch), \(InspectFormat.count(start.l0.count, "L0 sub-level")), "
                    + "\(InspectFormat.count(start.total.fileCount, "SST")), \(InspectFormat.bytes(start.total.bytes)))")
            })
        // SIGINT or SIGTERM: graceful shutdown of the group, so the running task finishes
        // and the session ends; a second signal kills the process.
        let signals = StopSignalService()
        let background: [any Service] = endpoint.map { [$0] } ?? []
        let t0 = Timer.now()
        do {
            try await signals.group(main: compactor, background: background, logger: logger).run()
        } catch {
            InspectFormat.printError("\(error)")
            printSummary(summary.lock.withLock { $0 }, seconds: Timer.now() - t0, reason: "stopped by an error")
            throw ExitCode(1)
        }
        let signal = signals.signal
        let reason = signal == 0 ? (parentGone ? "stopped: the parent process is gone" : "done")
            : "stopped by \(signal == SIGINT ? "SIGINT" : "SIGTERM")"
        printSummary(summary.lock.withLock { $0 }, seconds: Timer.now() - t0, reason: reason)
    }

    // The starts of the output lines `CompactorTranscript` counts.
    static let attachedPrefix = "floe compact: attached to "
    static let reattachedPrefix = "floe compact: the session had been ended (its lease ran out); "
    static let stalePrefix = "stale: "
    static let gcDeletedPrefix = "gc: deleted "

    /// Prints what the compactor did and adds it to the summary.
    private static func report(_ event: CompactorService.Event, into summary: SummaryBox, verbose: Bool) {
        switch event {
        case let .task(r, seconds):
            summary.lock.withLock { s in
                s.tasks += 1
                s.byKind[r.task.kind.rawValue, default: 0] += 1
                s.read += r.bytesRead
                s.written += r.bytesWritten
            }
            emit(describe(r, milliseconds: seconds * 1000))
        case let .stale(why, seconds):
            summary.lock.withLock { $0.stale += 1 }
            emit(stalePrefix + "\(why) (\(fmt(seconds * 1000, 1)) ms); going on")
        case let .reattached(session):
            emit(reattachedPrefix + "attached again as session \(session)")
        case .nothingDue:
            emit("nothing to compact")
        case let .garbageCollected(g):
            summary.lock.withLock { s in
                s.gcDeleted += g.deletedObjects
                s.gcDeletedBytes += g.deletedBytes
            }
            if verbose || g.deletedObjects > 0 {
                emit(gcDeletedPrefix + "\(InspectFormat.count(g.deletedObjects, "object")) (\(InspectFormat.bytes(g.deletedBytes))), "
                    + "kept \(g.keptObjects)")
            }
        }
    }

    /// `l0ToBase  in 4 SSTs 1.20 MiB -> L6  out 2 SSTs 1.10 MiB  35.2 ms`.
    private static func describe(_ r: CompactionResult, milliseconds: Double) -> String {
        let inputs = r.task.inputs.flatMap(\.ssts)
        let target = r.task.targetLevel == 0 ? "L0" : "L\(r.task.targetLevel)"
        let outBytes = r.outputs.reduce(0) { $0 + $1.fileSize }
        let moved = r.task.kind == .trivialMove ? " (moved, not rewritten)"
            : r.task.kind == .dropHidden ? " (every key below a table watermark: deleted, not read)" : ""
        return "\(r.task.kind.rawValue)  in \(InspectFormat.count(inputs.count, "SST")) \(InspectFormat.bytes(r.task.inputBytes))"
            + " -> \(target)  out \(InspectFormat.count(r.outputs.count, "SST")) \(InspectFormat.bytes(outBytes))\(moved)"
            + "  \(fmt(milliseconds, 1)) ms"
    }

    /// The summary the service's events add up (events arrive on the service's task).
    final class SummaryBox: Sendable {
        let lock = Lock(Summary())
    }

    struct Summary: Sendable {
        var tasks = 0
        var stale = 0
        var byKind: [String: Int] = [:]
        var read: UInt64 = 0
        var written: UInt64 = 0
        var gcDeleted = 0
        var gcDeletedBytes: UInt64 = 0
    }

    private func printSummary(_ s: Summary, seconds: Double, reason: String) {
        let kinds = s.byKind.keys.sorted().map { "\($0) \(s.byKind[$0]!)" }.joined(separator: ", ")
        var line = "floe compact: \(reason) after \(fmt(seconds, 1)) s: \(InspectFormat.count(s.tasks, "task"))"
            + (kinds.isEmpty ? "" : " (\(kinds))")
            + ", read \(InspectFormat.bytes(s.read)), wrote \(InspectFormat.bytes(s.written)), \(s.stale) stale"
        if gc { line += ", gc deleted \(InspectFormat.count(s.gcDeleted, "object")) (\(InspectFormat.bytes(s.gcDeletedBytes)))" }
        emit(line)
    }

    /// Prints `line` and flushes at once, even into a file or pipe: this runs for
    /// hours and its log is read live.
    private static func emit(_ line: String) {
        print(line)
        fflush(nil)
    }

    private func emit(_ line: String) { Self.emit(line) }

    private var parentGone: Bool { parentPid.map { getppid() != $0 } ?? false }
}
