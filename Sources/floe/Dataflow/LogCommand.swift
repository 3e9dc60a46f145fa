import ArgumentParser

/// `floe log`: the partitioned log of the dataflow layer (docs/dataflow.md).
struct LogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Load, generate and inspect partitioned logs (the dataflow layer's input topics).",
        subcommands: [LogLoadCommand.self, LogGenerateCommand.self, LogShowCommand.self, LogBenchCommand.self])
}
