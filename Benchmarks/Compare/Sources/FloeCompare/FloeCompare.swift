import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

@main
struct FloeCompare: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "floe-compare",
        abstract: "Floe, RocksDB and LevelDB side by side on identical workloads, in one process run.",
        subcommands: [CompareCommand.self, ChildFillCommand.self],
        defaultSubcommand: CompareCommand.self)
}

/// Hidden: fills a fresh store in a child process, prints `FILLED <seconds>` after
/// the last durability point and then waits for the parent's SIGKILL.
struct ChildFillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "child-fill", shouldDisplay: false)

    @Option var engine: String
    @Option var dir: String
    @Option var num: Int
    @Option var batchKeys: Int
    @Option var cacheMib: Int
    @Option var seed: UInt64

    func run() async throws {
        let command = self
        try await Task.detached { try await command.execute() }.value
    }

    func execute() async throws {
        guard let kind = EngineKind(rawValue: engine) else { throw ValidationError("unknown engine \(engine)") }
        let keys = BenchKeys(count: num, keySize: CompareCommand.keySize, seed: seed)
        let values = BenchValues(size: CompareCommand.valueSize, seed: seed)
        let plan = WritePlan.fill(keys: keys, batchKeys: batchKeys)
        let store = try await kind.open(dir: dir, config: EngineConfig(cacheBytes: cacheMib << 20))
        let t0 = monotonicSeconds()
        try await store.apply(plan, keys: keys, values: values)
        let seconds = monotonicSeconds() - t0
        // Unbuffered, so the parent sees the line at once.
        let line = Array("FILLED \(seconds)\n".utf8)
        guard line.withUnsafeBytes({ write(1, $0.baseAddress, $0.count) }) == line.count else { throw EngineError("cannot report to the parent") }
        // No close: the parent kills this process, the way a crash would.
        waitForStdinEOF()
        Glibc.exit(3)
    }
}
