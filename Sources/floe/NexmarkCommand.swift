import ArgumentParser

/// `floe nexmark`: the Nexmark benchmark's queries (docs/dataflow.md, "Nexmark queries").
struct NexmarkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nexmark",
        abstract: "Run the Nexmark queries as dataflow pipelines.",
        subcommands: [NexmarkRunCommand.self],
        defaultSubcommand: NexmarkRunCommand.self)
}
