import ArgumentParser
import Floe

/// `floe stats PATH`: the shape of a store's current version, from the manifest alone.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Print the shape of a store directory per L0 sub-level and level (manifest only).",
        discussion: "Reads the manifest only (no data file) and never opens the store as a writer, so a live writer is not fenced.")

    @Argument(help: "Store directory.") var path: String
    @Option(help: "Bytes of each metadata value to show.") var valueBytes: Int = 48

    func run() async throws {
        let inspector = try await InspectFormat.openStore(path)
        let v: VersionSummary
        do { v = try await inspector.currentVersion() } catch { throw InspectFormat.failure(error) }

        var head = FieldList()
        head.append("store", path)
        head.append("committed epoch", "\(v.committedEpoch)")
        head.append("safe epoch", "\(v.safeEpoch)")
        head.append("manifest", "sequence \(v.sequence), writer \(v.writerID)")
        print(head.render())

        var table = TextTable([("run", .left), ("files", .right), ("bytes", .right), ("raw", .right),
                               ("entries", .right), ("tombstones", .right), ("epochs", .left),
                               ("smallest key", .left), ("largest key", .left)])
        func row(_ r: SstRunSummary) -> [String] {
            [r.name, "\(r.fileCount)", InspectFormat.bytes(r.bytes), InspectFormat.bytes(r.rawBytes),
             "\(r.entries)", "\(r.tombstones)", InspectFormat.epochs(r.minEpoch, r.maxEpoch),
             r.smallestKey.map(KeyText.describe) ?? "-", r.largestKey.map(KeyText.describe) ?? "-"]
        }
        for r in v.runs { table.append(row(r)) }
        table.append(row(v.total))
        print("\n" + table.render())
        print("\n\(InspectFormat.count(v.l0.count, "L0 sub-level")), \(InspectFormat.count(v.levels.count, "level"))")

        print("\nmetadata (\(InspectFormat.count(v.metadata.count, "key")))")
        var meta = FieldList()
        for k in v.metadata.keys.sorted() {
            let value = v.metadata[k]!
            meta.append(k, KeyText.preview(value, limit: valueBytes) + " (\(InspectFormat.count(value.count, "byte")))")
        }
        if !v.metadata.isEmpty { print(meta.render(indent: "  ")) }
    }
}
