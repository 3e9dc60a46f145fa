import ArgumentParser

/// `floe nexmark`: the Nexmark benchmark's streams (docs/nexmark.md) and its queries
/// as dataflow pipelines (docs/dataflow.md, "Nexmark queries").
struct NexmarkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nexmark",
        abstract: "Generate the Nexmark streams (person, auction, bid) and run the Nexmark queries as dataflow pipelines.",
        subcommands: [NexmarkRunCommand.self, NexmarkGenerateCommand.self],
        defaultSubcommand: NexmarkRunCommand.self)
}
