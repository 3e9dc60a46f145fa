import ArgumentParser
import FloeDataflow

/// `floe log show --log DIR --topic T`: partitions, segments and end offsets.
struct LogShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "List the partitions, segments and end offsets of a topic.",
        discussion: """
            Read-only. The records of the last segment of a partition exclude a torn tail; a \
            damaged segment is reported and the exit code is 1.
            """)

    @Option(help: "Log directory.") var log: String
    @Option(help: "Topic name.") var topic: String

    func run() async throws {
        do {
            let source = try PartitionedLog(directory: log, create: false)
            let t = try await source.topic(topic)
            print("topic \(t.name): \(InspectFormat.count(t.partitions, "partition")), columns \(t.columns.joined(separator: ", "))\n")
            var table = TextTable([("partition", .right), ("segment", .left), ("first offset", .right),
                                   ("records", .right), ("size", .right)])
            var ends: [(UInt64, Int)] = []
            for p in 0..<t.partitions {
                let segments = try await source.segments(topic, partition: p)
                var end: UInt64 = 0
                for (i, s) in segments.enumerated() {
                    let records = i + 1 < segments.count ? segments[i + 1].firstOffset - s.firstOffset
                        : try await source.wholeRecords(inLast: s)
                    end = s.firstOffset + records
                    table.append(["\(p)", s.path, "\(s.firstOffset)", "\(records)", InspectFormat.bytes(s.size)])
                }
                ends.append((end, segments.count))
            }
            print(table.render())
            print("")
            for (p, (end, segments)) in ends.enumerated() {
                print("partition \(p): end offset \(end) (\(InspectFormat.count(segments, "segment")))")
            }
        } catch {
            throw InspectFormat.failure(error)
        }
    }
}
