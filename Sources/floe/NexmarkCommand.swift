import ArgumentParser

/// `floe nexmark`: the Nexmark benchmark streams (docs/nexmark.md).
struct NexmarkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nexmark",
        abstract: "Generate the Nexmark benchmark streams (person, auction, bid).",
        subcommands: [NexmarkGenerateCommand.self])
}
