import Floe
import Testing
@testable import FloeDataflow

@Suite struct LogSourceErrorTests {
    static func ordersLog() async throws -> PartitionedLog {
        let log = PartitionedLog(store: MemoryObjectStore())
        try await log.createTopic("orders", partitions: 2, columns: ["order_id", "category", "amount", "event_time"])
        try await log.createTopic("clicks", partitions: 1, columns: ["id"])
        return log
    }

    @Test func unknownTopicIsTypedAndListsTheTopics() async throws {
        let log = try await Self.ordersLog()
        await #expect(throws: DataflowError.unknown(kind: "topic", name: "order", known: ["clicks", "orders"])) {
            _ = try await LogSource(log: log, topic: "order", schema: EoStreams.ordersSchema)
        }
        await #expect(throws: DataflowError.unknown(kind: "topic", name: "nope", known: ["clicks", "orders"])) {
            _ = try await log.endOffsets("nope")
        }
        await #expect(throws: DataflowError.self) { _ = try await log.topic("../x") }
    }

    @Test func schemaColumnTheTopicLacksIsTyped() async throws {
        let log = try await Self.ordersLog()
        let schema = Schema([ColumnDef("order_id", .int64), ColumnDef("discount", .decimal(scale: 2))])
        await #expect(throws: DataflowError.unknownColumn("orders.discount", available: ["order_id", "category", "amount", "event_time"])) {
            _ = try await LogSource(log: log, topic: "orders", schema: schema)
        }
        // A subset of the columns, in another order, is fine.
        let subset = try await LogSource(log: log, topic: "orders", schema: Schema([ColumnDef("amount", .decimal(scale: 2)), ColumnDef("order_id", .int64)]))
        #expect(subset.partitions == 2 && subset.name == "log:orders")
        await #expect(throws: DataflowError.self) { _ = try await subset.reader(partition: 2, from: 0) }
    }

    @Test func fieldThatDoesNotParseStopsTheReaderAtItsRow() async throws {
        let log = try await Self.ordersLog()
        var batch = try LogBatch(partitions: 2, columns: 4)
        for row in [["1", "Books", "1.50", "2026-04-01 10:00:00"], ["2", "Toys", "2", "2026-04-01 10:00:01"],
                    ["3", "Home", "3.333", "2026-04-01 10:00:02"], ["4", "Home", "4.00", "2026-04-01 10:00:03"]] {
            try batch.append(partition: 1, fields: row.map { Array($0.utf8) })
        }
        try await log.append("orders", batch)
        let source = try await LogSource(log: log, topic: "orders", schema: EoStreams.ordersSchema)
        var reader = try await source.reader(partition: 1, from: 0)
        var chunk = Chunk(schema: source.schema)
        let bad = DataflowError.malformedValue(location: "topic orders partition 1 offset 2", column: "amount", type: "decimal(2)", text: "3.333")
        // The rows before the bad one come first; the read that starts at it throws.
        #expect(try await reader.read(into: &chunk, max: 10) == .rows(2))
        #expect(chunk.count == 2 && chunk.isWellFormed && reader.offset == 2)
        await #expect(throws: bad) { _ = try await reader.read(into: &chunk, max: 10) }
        #expect(chunk.count == 2 && chunk.isWellFormed && reader.offset == 2)
        #expect(chunk.fields(1) == ["2", "Toys", "2.00", "2026-04-01 10:00:01"])
        // Reading again fails again at the same row, appending nothing.
        await #expect(throws: bad) { _ = try await reader.read(into: &chunk, max: 10) }
        #expect(chunk.count == 2 && chunk.isWellFormed && reader.offset == 2)
        // A reader from after it goes on.
        var after = try await source.reader(partition: 1, from: 3)
        var rest = Chunk(schema: source.schema)
        #expect(try await after.read(into: &rest, max: 10) == .rows(1))
        #expect(rest.fields(0) == ["4", "Home", "4.00", "2026-04-01 10:00:03"])
    }

    @Test func theFirstBadFieldInRowMajorOrderIsReported() async throws {
        let log = try await Self.ordersLog()
        var batch = try LogBatch(partitions: 2, columns: 4)
        for row in [["1", "Books", "1.50", "2026-04-01 10:00:00"], ["2", "Toys", "2", "2026-04-01 25:00:00"],
                    ["x3", "Home", "bad", "2026-04-01 10:00:02"], ["4", "Home", "4.0.0", "2026-04-01 10:00:03"]] {
            try batch.append(partition: 0, fields: row.map { Array($0.utf8) })
        }
        try await log.append("orders", batch)
        // Row 1's timestamp fails before row 2's id and amount, and row 3's amount.
        let source = try await LogSource(log: log, topic: "orders", schema: EoStreams.ordersSchema)
        var reader = try await source.reader(partition: 0, from: 0)
        var chunk = Chunk(schema: source.schema)
        #expect(try await reader.read(into: &chunk, max: 10) == .rows(1))
        await #expect(throws: DataflowError.malformedValue(location: "topic orders partition 0 offset 1", column: "event_time",
                                                           type: "timestamp", text: "2026-04-01 25:00:00")) {
            _ = try await reader.read(into: &chunk, max: 10)
        }
        #expect(chunk.count == 1 && chunk.isWellFormed && chunk.fields(0) == ["1", "Books", "1.50", "2026-04-01 10:00:00"])
        // In row 2, the first bad column in the schema's order: amount before order_id here.
        let reordered = try await LogSource(log: log, topic: "orders", schema: Schema([ColumnDef("amount", .decimal(scale: 2)), ColumnDef("order_id", .int64)]))
        var second = try await reordered.reader(partition: 0, from: 2)
        var other = Chunk(schema: reordered.schema)
        await #expect(throws: DataflowError.malformedValue(location: "topic orders partition 0 offset 2", column: "amount",
                                                           type: "decimal(2)", text: "bad")) {
            _ = try await second.read(into: &other, max: 10)
        }
        #expect(other.count == 0 && other.isWellFormed && second.offset == 2)
    }

    @Test func badNamesAndShapesAreRefused() async throws {
        let log = PartitionedLog(store: MemoryObjectStore())
        for name in ["", ".hidden", "a/b", "sp ace", String(repeating: "x", count: 201)] {
            await #expect(throws: DataflowError.self, "\(name)") { try await log.createTopic(name, partitions: 1, columns: ["a"]) }
        }
        await #expect(throws: DataflowError.self) { try await log.createTopic("t", partitions: 0, columns: ["a"]) }
        await #expect(throws: DataflowError.self) { try await log.createTopic("t", partitions: 10_000, columns: ["a"]) }
        await #expect(throws: DataflowError.self) { try await log.createTopic("t", partitions: 1, columns: []) }
        await #expect(throws: DataflowError.self) { try await log.createTopic("t", partitions: 1, columns: ["a", "a"]) }
        try await log.createTopic("t", partitions: 1, columns: ["a", "b"])
        var records = LogRecords(columns: 2)
        #expect(throws: DataflowError.self) { try records.append(fields: [[1]]) }
        #expect(records.count == 0 && records.byteCount == 0)
        var wrongShape = try LogBatch(partitions: 2, columns: 2)
        try wrongShape.append(partition: 0, fields: [[1], [2]])
        await #expect(throws: DataflowError.self) { try await log.append("t", wrongShape) }
        #expect(try await log.endOffsets("t") == [0])
    }
}
