import ArgumentParser
import Floe
import FloeDataflow

/// `floe log bench`: rows per second of the dataflow inputs on one core.
struct LogBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the generator, the CSV loader and log reads (rows per second, one task).",
        discussion: """
            Generates --rows orders into chunks; writes them as CSV text and parses and checks it; \
            appends them to a log (in memory, or in --dir) in --segments appends; then reads the \
            topic back through a LogSource with the orders schema. Build with -c release to measure.
            """)

    @Option(help: "Rows.") var rows: Int = 2_000_000
    @Option(help: "Rows per chunk read.") var chunkRows: Int = 4096
    @Option(help: "Appends (segments per partition) the rows are split into.") var segments: Int = 4
    @Option(help: "Log directory (default: in memory).") var dir: String?

    func validate() throws {
        guard rows >= 1, chunkRows >= 1, segments >= 1 else { throw ValidationError("--rows, --chunk-rows and --segments must be positive") }
    }

    func run() async throws {
        do {
            try await measure()
        } catch {
            throw InspectFormat.failure(error)
        }
    }

    private func report(_ what: String, rows: Int, seconds: Double, bytes: Int? = nil) {
        var line = what + String(repeating: " ", count: max(1, 36 - what.count))
            + "\(grouped(Int(Double(rows) / seconds))) rows/s (\(fmt(seconds * 1000, 1)) ms)"
        if let bytes { line += ", \(fmt(Double(bytes) / seconds / 1_048_576, 0)) MiB/s" }
        print(line)
    }

    private func measure() async throws {
        let generator = EoGenerator(stream: .orders, seed: 42)
        // Generator fill.
        let source = try GeneratorSource(generator: generator, partitions: 1, events: UInt64(rows))
        var reader = try await source.reader(partition: 0, from: 0)
        var chunk = Chunk(schema: source.schema, capacity: chunkRows)
        var seen = 0
        var t0 = Timer.now()
        while case let .rows(n) = try await reader.read(into: &chunk, max: chunkRows) {
            seen += n
            chunk.removeAll()
        }
        report("generate orders into chunks", rows: seen, seconds: Timer.now() - t0)

        // CSV text, then parse and check it.
        t0 = Timer.now()
        let text = generator.csv(events: 0..<UInt64(rows))
        report("generate orders as CSV text", rows: rows, seconds: Timer.now() - t0, bytes: text.count)
        t0 = Timer.now()
        let (columns, batch) = try CsvLoader.parse(csv: text, file: "bench.csv", partitions: 1, schema: EoStreams.ordersSchema)
        report("parse and check the CSV", rows: batch.count, seconds: Timer.now() - t0, bytes: text.count)

        // Append in `segments` pieces (re-encoded from the batch's records).
        let store: any ObjectStore = try dir.map { try LocalObjectStore(root: $0) } ?? MemoryObjectStore()
        let log = PartitionedLog(store: store)
        let topic = "bench\(UInt32.random(in: 0...UInt32.max))"
        try await log.createTopic(topic, partitions: 1, columns: columns)
        let per = (rows + segments - 1) / segments
        var parts: [LogBatch] = []
        var parser = CsvParser(text, file: "bench.csv")
        var fields = CsvFields()
        _ = try parser.next(into: &fields)
        var current = try LogBatch(partitions: 1, columns: columns.count)
        while try parser.next(into: &fields) {
            current.records[0].beginRecord()
            for i in 0..<fields.count { try fields.withField(i) { try current.records[0].appendField($0) } }
            try current.records[0].endRecord()
            if current.count == per {
                parts.append(current)
                current = try LogBatch(partitions: 1, columns: columns.count)
            }
        }
        if current.count > 0 { parts.append(current) }
        t0 = Timer.now()
        for p in parts { try await log.append(topic, p) }
        report("append to the log (\(parts.count) segments)", rows: rows, seconds: Timer.now() - t0)

        // Read back, typed.
        let logSource = try await LogSource(log: log, topic: topic, schema: EoStreams.ordersSchema)
        var logReader = try await logSource.reader(partition: 0, from: 0)
        chunk = Chunk(schema: logSource.schema, capacity: chunkRows)
        seen = 0
        var amountSum: Int64 = 0
        t0 = Timer.now()
        while case let .rows(n) = try await logReader.read(into: &chunk, max: chunkRows) {
            seen += n
            for a in chunk.integers(2) { amountSum &+= a }
            chunk.removeAll()
        }
        report("read the log into typed chunks", rows: seen, seconds: Timer.now() - t0)
        guard seen == rows else { throw ValidationError("read \(seen) rows of \(rows)") }
        print("(sum of amounts \(ValueText.formatDecimal(amountSum, scale: 2)))")
    }
}
