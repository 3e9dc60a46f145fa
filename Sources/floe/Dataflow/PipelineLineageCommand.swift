import ArgumentParser
import Floe
import FloeDataflow
import FloeS3

/// `floe pipeline lineage`: the input each committed epoch consumed and the view
/// digests it ended with, from the store alone.
struct PipelineLineageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lineage",
        abstract: "Print the source offset ranges each committed epoch consumed, and its view digests.",
        discussion: """
            Every epoch a pipeline commits records, per source partition, the offsets [start, end) it \
            read, and per view its row count and digest at the epoch's end (docs/dataflow.md, \
            "Lineage and replay verification"). A view row of epoch E was produced by the input of \
            epochs up to E; the rows E changed come from E's ranges. Epochs committed before lineage \
            was recorded have no record.
            """)

    @Option(help: "Store directory or URL (s3://bucket/prefix?..., docs/s3.md).") var path: String
    @Option(help: "Print only this epoch (default: every recorded epoch).") var epoch: UInt64?
    @Flag(help: "Print a JSON array of records instead of text.") var json = false

    func run() async throws {
        let command = self
        try await Task.detached { try await command.execute() }.value
    }

    func execute() async throws {
        let store = try await StateStore.openReadOnly(url: path)
        let records: [EpochLineage]
        do {
            if let epoch {
                guard let r = try await EpochLineage.read(store: store, epoch: epoch) else {
                    throw ValidationError("epoch \(epoch) has no lineage record (committed epoch \(store.committedEpoch))")
                }
                records = [r]
            } else {
                records = try await EpochLineage.all(store: store)
            }
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
        if json {
            print("[" + records.map(Self.json).joined(separator: ",\n ") + "]")
            return
        }
        for r in records { print(Self.text(r), terminator: "") }
    }

    static func text(_ r: EpochLineage) -> String {
        var out = "epoch \(r.epoch): \(r.consumed) rows read\(r.digestsComplete ? "" : " (digests incomplete)")\n"
        for s in r.sources {
            for p in s.start.indices {
                out += "  source \(s.source) partition \(p): offsets \(s.start[p])..<\(s.end[p])\n"
            }
        }
        for name in r.views.keys.sorted() { out += "  view \(name): \(r.views[name]!)\n" }
        return out
    }

    /// 16 lowercase hex digits (JSON numbers past 2^53 lose precision in many readers).
    static func hex(_ v: UInt64) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: 16 - h.count) + h
    }

    static func json(_ r: EpochLineage) -> String {
        let sources = r.sources.map { s in
            "\"\(s.source)\": [" + s.start.indices.map { "[\(s.start[$0]), \(s.end[$0])]" }.joined(separator: ", ") + "]"
        }.joined(separator: ", ")
        let views = r.views.keys.sorted().map { "\"\($0)\": {\"rows\": \(r.views[$0]!.rows), \"digest\": \"\(Self.hex(r.views[$0]!.sum))\"}" }
            .joined(separator: ", ")
        return "{\"epoch\": \(r.epoch), \"rows\": \(r.consumed), \"sources\": {\(sources)}, \"views\": {\(views)}, "
            + "\"digests_complete\": \(r.digestsComplete)}"
    }
}
