import ArgumentParser
import Floe

@main
struct FloeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "floe",
        abstract: "Floe: an epoch-versioned LSM state store.",
        subcommands: [DemoCommand.self, S3Command.self, PipelineCommand.self, ViewCommand.self, BenchCommand.self, KillRecoveryChild.self, CrashtestCommand.self, CrashtestWorkerCommand.self, EotestCommand.self, CompactCommand.self, SstCommand.self, ManifestCommand.self, CheckpointCommand.self, StatsCommand.self, VerifyCommand.self, LogCommand.self, NexmarkCommand.self]
    )
}
