import ArgumentParser

/// `floe manifest`: inspect a store's manifest.
struct ManifestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manifest",
        abstract: "Inspect a store's manifest.",
        subcommands: [ManifestShowCommand.self])
}
