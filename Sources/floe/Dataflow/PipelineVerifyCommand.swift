import ArgumentParser
import Floe
import FloeDataflow
import FloeS3

/// `floe pipeline verify`: replays recorded epochs from the log into a scratch
/// store and compares every view's digest, epoch by epoch (`ReplayVerifier`).
struct PipelineVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Replay the input of committed epochs and check that every epoch's views come out the same.",
        discussion: """
            Starts from an empty store (--from-epoch 0, the default) or from a named checkpoint \
            (--checkpoint NAME, or --from-epoch E naming the epoch of one; floe checkpoint create), \
            replays each later epoch's recorded input ranges (floe pipeline lineage) with the same \
            epoch boundaries, and compares every view's digest at the end of every epoch with the \
            recorded one; then checks the store's view rows against the last recorded digests. \
            Prints `verified` and exits 0, or prints the first epoch that differs and its views and \
            exits 1. --query and --lateness-ms must be those of the run; --parallelism may differ. \
            Restoring a checkpoint needs a store directory (not a URL).
            """)

    @Option(help: "Log directory the pipeline read (it must still hold the replayed epochs' input).") var log: String
    @Option(help: "Store directory or URL (s3://bucket/prefix?..., docs/s3.md) to verify.") var path: String
    @Option(help: "The query the store was written with, as given to `floe pipeline run --query` (the seeds' views, q0...q9, nexmark, all).") var query: String = "all"
    @Option(help: ArgumentHelp("The allowed lateness the store was written with.", valueName: "ms")) var latenessMs: Int?
    @Option(help: "Start at this epoch: 0 (an empty store) or the epoch of a named checkpoint.") var fromEpoch: UInt64?
    @Option(help: "Start at this named checkpoint of the store.") var checkpoint: String?
    @Option(help: "Instances of each stateful operator in the replay.") var parallelism: Int = 1
    @Option(help: "Directory for the scratch store (default: in memory, or a temporary directory for a checkpoint).") var scratch: String?
    @OptionGroup var logging: LogLevelOption

    func validate() throws {
        if fromEpoch != nil && checkpoint != nil { throw ValidationError("give --from-epoch or --checkpoint, not both") }
    }

    func run() async throws {
        logging.install()
        let command = self
        let passed = try await Task.detached { try await command.execute() }.value
        if !passed { throw ExitCode(1) }
    }

    func execute() async throws -> Bool {
        let builder = try await PipelineQuery.builder(log: log, query: query, latenessMs: latenessMs)
        var startName = checkpoint
        if let fromEpoch, fromEpoch > 0 {
            let all = try await StateStore.checkpoints(objectStore: FloeStoreURL.objectStore(for: path, create: false))
            guard let c = all.first(where: { $0.epoch == fromEpoch }) else {
                throw ValidationError("no named checkpoint of the store is at epoch \(fromEpoch) (have: "
                    + (all.isEmpty ? "none" : all.map { "\($0.name) at \($0.epoch)" }.joined(separator: ", ")) + ")")
            }
            startName = c.name
        }
        var temporary: String?
        let scratchStore: StateStore
        if let startName {
            guard let local = try FloeStoreURL.localPath(path) else { throw ValidationError("--checkpoint needs a store directory, not a URL") }
            let dir: String
            if let scratch { dir = scratch } else {
                dir = try EotestFiles.temporaryDirectory()
                temporary = dir
            }
            _ = try await StateStore.restoreCheckpoint(name: startName, from: local, to: dir)
            scratchStore = try await StateStore.open(path: dir, options: CLILogging.storeOptions())
        } else if let scratch {
            scratchStore = try await StateStore.open(path: scratch, options: CLILogging.storeOptions())
        } else {
            scratchStore = try await StateStore.open(objectStore: MemoryObjectStore(), options: CLILogging.storeOptions())
        }
        defer { if let temporary { EotestFiles.remove(temporary) } }
        let recorded = try await StateStore.openReadOnly(url: path)
        var options = PipelineOptions()
        options.parallelism = parallelism
        options.logger = CLILogging.logger
        let result: ReplayVerification
        do {
            result = try await ReplayVerifier.verify(recorded: recorded, scratch: scratchStore, builder: builder, options: options)
        } catch {
            try? await recorded.close()
            try? await scratchStore.close()
            throw error
        }
        try await recorded.close()
        try await scratchStore.close()
        print("replayed epochs \(result.fromEpoch + 1)...\(result.toEpoch) from epoch \(result.fromEpoch) (\(result.rowsReplayed) rows)")
        guard let bad = result.firstBadEpoch else {
            print("verified")
            return true
        }
        print("first difference at epoch \(bad)")
        for d in result.differences { print("  \(d)") }
        return false
    }
}
