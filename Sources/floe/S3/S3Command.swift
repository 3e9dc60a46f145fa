import ArgumentParser

/// `floe s3`: tools for running Floe against S3-compatible storage (docs/s3.md).
struct S3Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "s3",
        abstract: "Tools for stores on S3-compatible object storage.",
        subcommands: [S3ProxyCommand.self])
}
