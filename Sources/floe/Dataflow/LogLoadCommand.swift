import ArgumentParser
import FloeDataflow

/// `floe log load --log DIR --topic T --partitions N [--schema ...] FILE.csv`.
struct LogLoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Append the rows of a CSV file to a topic of a log directory.",
        discussion: """
            The CSV's first line names the columns (RFC 4180 quoting; LF or CRLF). Each row goes to \
            the partition its first field hashes to. The whole file is checked before anything is \
            written: every line has the header's number of fields and, with --schema (or for the \
            topics orders, payments, person, auction and bid, whose schemas are known), every value parses as its column's \
            type. A bad line is reported as FILE:LINE and nothing is appended. The topic is created \
            when missing; an existing topic must have the same partitions and columns.

            Prints the end offset of every partition after the load, one line each: `partition 0: 1234`.
            """)

    @Option(help: "Log directory (created if missing).") var log: String
    @Option(help: "Topic name (letters, digits, _ - .).") var topic: String
    @Option(help: "Number of partitions (1...9999).") var partitions: Int
    @Option(help: "Column types to check, name:type,... (int64, decimal(S), string, timestamp).") var schema: String?
    @Argument(help: "CSV file.") var file: String

    func run() async throws {
        do {
            let parsedSchema = try schema.map { try Schema(parsing: $0) }
            let target = try PartitionedLog(directory: log)
            let ends = try await CsvLoader.load(file: file, into: target, topic: topic, partitions: partitions, schema: parsedSchema)
            for (p, end) in ends.enumerated() { print("partition \(p): \(end)") }
        } catch {
            throw InspectFormat.failure(error)
        }
    }
}
