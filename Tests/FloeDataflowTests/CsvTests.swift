import CXXHash
import Floe
import Testing
@testable import FloeDataflow

@Suite struct CsvTests {
    /// Every record of `text`, fields as strings.
    static func records(_ text: String) throws -> [[String]] {
        var parser = CsvParser(Array(text.utf8), file: "t.csv")
        var fields = CsvFields()
        var out: [[String]] = []
        while try parser.next(into: &fields) { out.append((0..<fields.count).map { fields.string($0) }) }
        return out
    }

    @Test func quotingEdgeCases() throws {
        #expect(try Self.records("a,b\n1,2\n") == [["a", "b"], ["1", "2"]])
        #expect(try Self.records("a,b\r\n1,2\r\n") == [["a", "b"], ["1", "2"]])
        #expect(try Self.records("a,b\n1,2") == [["a", "b"], ["1", "2"]], "no line break at the end")
        #expect(try Self.records("\u{FEFF}a\n1\n") == [["a"], ["1"]], "byte order mark")
        #expect(try Self.records("\"x,y\",\"say \"\"hi\"\"\"\n") == [["x,y", "say \"hi\""]])
        #expect(try Self.records("\"line1\nline2\",\"cr\r\nlf\"\n") == [["line1\nline2", "cr\r\nlf"]])
        #expect(try Self.records(",,\n") == [["", "", ""]], "empty fields")
        #expect(try Self.records("\"\",\"\"\"\"\n") == [["", "\""]], "empty quoted field and a lone quote")
        #expect(try Self.records("a,\n") == [["a", ""]], "trailing empty field")
        #expect(try Self.records("a,b\n\n") == [["a", "b"], [""]], "a blank line is one empty field")
        #expect(try Self.records("x\u{0}y,\"\u{0}\"\n") == [["x\u{0}y", "\u{0}"]], "zero bytes")
        #expect(try Self.records(" a , b \n") == [[" a ", " b "]], "spaces are data")
        #expect(try Self.records("") == [])
    }

    @Test func malformedQuotingNamesFileAndLine() throws {
        func failure(_ text: String) -> DataflowError? {
            do { _ = try Self.records(text); return nil } catch let e as DataflowError { return e } catch { return nil }
        }
        // The location is the record's first line; an unclosed quote is reported where it opens.
        #expect(failure("a,b\n1,\"open\nmore\n") == .malformedRow(location: "t.csv:2", reason: "quoted field opened on this line is never closed"))
        #expect(failure("a\n\"x\ny\",\"z\"q\n").map { "\($0)" }?.hasPrefix("t.csv:3:") == true, "text after a closing quote, on line 3")
        #expect(failure("a\nb\"c\n").map { "\($0)" }?.hasPrefix("t.csv:2:") == true, "quote inside an unquoted field")
        #expect(failure("a\nb\rc\n").map { "\($0)" }?.hasPrefix("t.csv:2:") == true, "a lone CR")
    }

    @Test func writerOutputParsesBackToTheSameFields() throws {
        let seed = testSeed()
        var g = SeededGenerator(seed: seed)
        for _ in 0..<200 {
            let columns = 1 + Int(g.next() % 4)
            let rows = (0..<Int(g.next() % 6)).map { _ in (0..<columns).map { _ in randomField(&g, longChance: 400) } }
            var w = CsvWriter()
            for r in rows {
                for f in r { w.field(f) }
                w.endRow()
            }
            var parser = CsvParser(w.bytes, file: "w.csv")
            var fields = CsvFields()
            var back: [[[UInt8]]] = []
            while try parser.next(into: &fields) { back.append((0..<fields.count).map { Array(fields.field($0)) }) }
            #expect(back == rows, "seed \(seed)")
        }
    }

    static let ordersHeader = "order_id,category,amount,event_time\n"

    /// Loads `text` and expects `error`, with the log left as it was.
    func expectLoadFails(_ text: String, topic: String = "orders", schema: Schema? = nil, _ error: DataflowError,
                         sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let store = MemoryObjectStore()
        let log = PartitionedLog(store: store)
        // A topic with rows in it already, so "nothing appended" is visible.
        try await CsvLoader.load(csv: Array((Self.ordersHeader + "7,Books,1.00,2026-04-01 10:00:00\n").utf8), file: "seed.csv",
                                 into: log, topic: topic, partitions: 2, schema: EoStreams.ordersSchema)
        let before = store.snapshot()
        await #expect(throws: error, sourceLocation: sourceLocation) {
            try await CsvLoader.load(csv: Array(text.utf8), file: "in.csv", into: log, topic: topic, partitions: 2, schema: schema)
        }
        #expect(store.snapshot() == before, "nothing appended", sourceLocation: sourceLocation)
    }

    @Test func malformedCsvNamesFileAndLineAndAppendsNothing() async throws {
        let good = "1,Books,12.50,2026-04-01 10:00:00\n"
        try await expectLoadFails(Self.ordersHeader + good + "2,Books,3.00\n",
                                  .malformedRow(location: "in.csv:3", reason: "3 fields, the header has 4"))
        try await expectLoadFails(Self.ordersHeader + good + good + "3,Books,12.505,2026-04-01 10:00:00\n",
                                  .malformedValue(location: "in.csv:4", column: "amount", type: "decimal(2)", text: "12.505"))
        try await expectLoadFails(Self.ordersHeader + good + "4,Books,abc,2026-04-01 10:00:00\n",
                                  .malformedValue(location: "in.csv:3", column: "amount", type: "decimal(2)", text: "abc"))
        try await expectLoadFails(Self.ordersHeader + good + "5,Books,1.00,2026-02-30 10:00:00\n",
                                  .malformedValue(location: "in.csv:3", column: "event_time", type: "timestamp", text: "2026-02-30 10:00:00"))
        try await expectLoadFails(Self.ordersHeader + good + "x6,Books,1.00,2026-04-01 10:00:00\n",
                                  .malformedValue(location: "in.csv:3", column: "order_id", type: "int64", text: "x6"))
        // A quoted newline in an earlier record moves the line numbers on.
        try await expectLoadFails(Self.ordersHeader + "1,\"Bo\nok\",1.00,2026-04-01 10:00:00\n" + "2,Books,1.00,10:00\n",
                                  .malformedValue(location: "in.csv:4", column: "event_time", type: "timestamp", text: "10:00"))
        try await expectLoadFails(Self.ordersHeader + good + "7,\"Books,1.00,2026-04-01 10:00:00\n",
                                  .malformedRow(location: "in.csv:3", reason: "quoted field opened on this line is never closed"))
        // An explicit schema checks any topic (values are checked before the topic's columns).
        try await expectLoadFails("k,n\na,1\nb,two\n", topic: "other", schema: Schema([ColumnDef("n", .int64)]),
                                  .malformedValue(location: "in.csv:3", column: "n", type: "int64", text: "two"))
        // An existing topic with other columns.
        try await expectLoadFails("id,category,amount,event_time\n1,Books,1.00,2026-04-01 10:00:00\n", schema: Schema([ColumnDef("amount", .decimal(scale: 2))]),
                                  .invalidArgument("topic orders exists with 2 partitions and columns order_id,category,amount,event_time; "
                                      + "this needs 2 partitions and columns id,category,amount,event_time"))
        // The known schema of `orders` needs its columns.
        try await expectLoadFails("order_id,category\n1,Books\n",
                                  .malformedRow(location: "in.csv:1", reason: "the header has no column \"amount\", which the schema \(EoStreams.ordersSchema) needs"))
        try await expectLoadFails("a,a\n1,2\n", topic: "other", .malformedRow(location: "in.csv:1", reason: "the header names column \"a\" twice"))
        try await expectLoadFails("", topic: "other", .malformedRow(location: "in.csv:1", reason: "the file is empty; its first line must name the columns"))
    }

    @Test func loadedRowsLandInTheirKeysPartitionInFileOrder() async throws {
        let log = PartitionedLog(store: MemoryObjectStore())
        var text = "k,v\n"
        var expected = [[[String]]](repeating: [], count: 5)
        for i in 0..<300 {
            let key = "key\(i % 37)"
            let value = i % 3 == 0 ? "with \"quote\", comma\nand newline \(i)" : "v\(i)"
            var w = CsvWriter()
            w.row([key, value])
            text += String(decoding: w.bytes, as: UTF8.self)
            // The partition rule: xxh3-64 of the first field's bytes, modulo the partition count.
            let p = Int(Array(key.utf8).withUnsafeBytes { floe_xxh3_64($0.baseAddress, $0.count) } % 5)
            expected[p].append([key, value])
        }
        let ends = try await CsvLoader.load(csv: Array(text.utf8), file: "kv.csv", into: log, topic: "kv", partitions: 5)
        #expect(ends == expected.map { UInt64($0.count) })
        let source = try await LogSource(log: log, topic: "kv", schema: Schema([ColumnDef("k", .bytes), ColumnDef("v", .bytes)]))
        for p in 0..<5 {
            #expect(try await readSource(source, partition: p, steps: { 13 }).rows == expected[p], "partition \(p)")
        }
        // Loading again appends after what is there.
        #expect(try await CsvLoader.load(csv: Array(text.utf8), file: "kv.csv", into: log, topic: "kv", partitions: 5)
            == expected.map { UInt64(2 * $0.count) })
    }
}
