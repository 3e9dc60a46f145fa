import Floe
import Testing
@testable import FloeDataflow

/// Appenders and readers in separate store instances on one directory (as
/// separate processes would be).
@Suite struct LogConcurrencyTests {
    static let schema = Schema([ColumnDef("id", .int64), ColumnDef("who", .bytes)])

    static func batch(_ who: String, _ ids: Range<Int>, partitions: Int) throws -> LogBatch {
        var b = try LogBatch(partitions: partitions, columns: 2)
        for id in ids { try b.appendRouted(fields: [Array(String(id).utf8), Array(who.utf8)]) }
        return b
    }

    @Test func readerThatWasCaughtUpSeesRowsAnotherAppenderAdds() async throws {
        let dir = try LogTempDirectory()
        defer { dir.remove() }
        let writer = PartitionedLog(store: try LocalObjectStore(root: dir.path))
        try await writer.createTopic("events", partitions: 1, columns: ["id", "who"])
        try await writer.append("events", try Self.batch("w", 0..<10, partitions: 1))

        let readerLog = PartitionedLog(store: try LocalObjectStore(root: dir.path))
        let source = try await LogSource(log: readerLog, topic: "events", schema: Self.schema)
        var reader = try await source.reader(partition: 0, from: 0)
        var chunk = Chunk(schema: Self.schema)
        #expect(try await reader.read(into: &chunk, max: 100) == .rows(10))
        #expect(try await reader.read(into: &chunk, max: 100) == .caughtUp)

        // Another appender adds rows while the reader polls.
        let appender = Task {
            for round in 1...5 {
                try await Task.sleep(for: .milliseconds(5))
                try await writer.append("events", try Self.batch("w", (round * 10)..<(round * 10 + 10), partitions: 1))
            }
        }
        var polls = 0
        while chunk.count < 60 && polls < 20_000 {
            if try await reader.read(into: &chunk, max: 7) == .caughtUp { try await Task.sleep(for: .milliseconds(1)) }
            polls += 1
        }
        try await appender.value
        #expect(chunk.integers(0) == (0..<60).map { Int64($0) })
        #expect(try await reader.read(into: &chunk, max: 100) == .caughtUp && reader.offset == 60)
        #expect(try await source.endOffsets() == [60])
    }

    @Test func racingAppendersNeitherOverwriteNorLoseRows() async throws {
        let dir = try LogTempDirectory()
        defer { dir.remove() }
        let partitions = 3
        let a = PartitionedLog(store: try LocalObjectStore(root: dir.path))
        let b = PartitionedLog(store: try LocalObjectStore(root: dir.path))
        try await a.createTopic("events", partitions: partitions, columns: ["id", "who"])
        // A second create with the same shape is a no-op; another shape is refused.
        try await b.createTopic("events", partitions: partitions, columns: ["id", "who"])
        await #expect(throws: DataflowError.self) { try await b.createTopic("events", partitions: 2, columns: ["id", "who"]) }

        async let runA: Void = {
            for round in 0..<30 { try await a.append("events", try Self.batch("a", (round * 5)..<(round * 5 + 5), partitions: partitions)) }
        }()
        async let runB: Void = {
            for round in 0..<30 { try await b.append("events", try Self.batch("b", (round * 5)..<(round * 5 + 5), partitions: partitions)) }
        }()
        _ = try await (runA, runB)

        let source = try await LogSource(log: a, topic: "events", schema: Self.schema)
        var all: [String: [Int64]] = [:]
        for p in 0..<partitions {
            let got = try await readSource(source, partition: p, steps: { 16 })
            for row in got.rows { all[row[1], default: []].append(Int64(row[0])!) }
        }
        // Every row of each appender is there once, and in its order within each partition
        // (ids were appended in increasing order).
        #expect(all["a"]?.sorted() == (0..<150).map { Int64($0) })
        #expect(all["b"]?.sorted() == (0..<150).map { Int64($0) })
        for p in 0..<partitions {
            let rows = try await readSource(source, partition: p, steps: { 1000 }).rows
            for who in ["a", "b"] {
                let ids = rows.filter { $0[1] == who }.map { Int64($0[0])! }
                #expect(ids == ids.sorted(), "partition \(p), appender \(who)")
            }
        }
        #expect(try await a.endOffsets("events").reduce(0, +) == 300)

        // Two appenders that saw the same end: exactly one wins each round.
        for round in 0..<20 {
            let end = try await a.endOffsets("events")[0]
            var ra = LogRecords(columns: 2), rb = LogRecords(columns: 2)
            try ra.append(fields: [Array("r\(round)".utf8), Array("a".utf8)])
            try rb.append(fields: [Array("r\(round)".utf8), Array("b".utf8)])
            async let wonA = Self.outcome { try await a.append("events", partition: 0, records: ra, expectedEnd: end) }
            async let wonB = Self.outcome { try await b.append("events", partition: 0, records: rb, expectedEnd: end) }
            let results = await [wonA, wonB]
            #expect(results.filter { $0 == "won" }.count == 1 && results.filter { $0 == "conflict" }.count == 1, "round \(round): \(results)")
            #expect(try await a.endOffsets("events")[0] == end + 1, "round \(round)")
        }
    }

    static func outcome(_ body: () async throws -> UInt64) async -> String {
        do {
            _ = try await body()
            return "won"
        } catch DataflowError.appendConflict {
            return "conflict"
        } catch {
            return "\(error)"
        }
    }

    @Test func appendAtAStaleOffsetIsAConflictAndWritesNothing() async throws {
        let store = MemoryObjectStore()
        let log = PartitionedLog(store: store)
        try await log.createTopic("t", partitions: 1, columns: ["id", "who"])
        var records = LogRecords(columns: 2)
        try records.append(fields: [Array("1".utf8), Array("x".utf8)])
        #expect(try await log.append("t", partition: 0, records: records, expectedEnd: 0) == 1)
        let before = store.snapshot()
        // Both appenders saw end 0; the second loses.
        await #expect(throws: DataflowError.appendConflict(topic: "t", partition: 0, offset: 0)) {
            try await log.append("t", partition: 0, records: records, expectedEnd: 0)
        }
        await #expect(throws: DataflowError.appendConflict(topic: "t", partition: 0, offset: 5)) {
            try await log.append("t", partition: 0, records: records, expectedEnd: 5)
        }
        #expect(store.snapshot() == before)
        // A batch append lists the end again and succeeds.
        #expect(try await log.append("t", try Self.batch("y", 0..<2, partitions: 1)) == [3])
    }
}
