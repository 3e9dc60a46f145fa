import ArgumentParser

/// `floe sst`: inspect a single SST file on disk.
struct SstCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sst",
        abstract: "Inspect a single SST file.",
        subcommands: [SstDumpCommand.self, SstVerifyCommand.self])
}
