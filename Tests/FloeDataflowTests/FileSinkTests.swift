import Foundation
import Testing
@testable import FloeDataflow
import Floe
import FloeTesting

@Suite struct FileSinkTests {
    static let views = ["orders": SinkFixtures.orders, "totals": SinkFixtures.totals]

    static func temporaryFiles(_ path: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".tmp") }
    }

    /// The model run on the real file system; after every step the epoch files
    /// present are exactly the epochs delivered (no gap, no extra file from a
    /// skipped re-delivery or a failed epoch) and no temporary file is left.
    @Test(arguments: ModelSeeds.first(16))
    func randomEpochsMatchModel(seed: UInt64) throws {
        let dir = try ScratchDirectory("file-sink")
        defer { dir.remove() }
        var run = SinkModelRun(seed: seed)
        do {
            try run.run(epochs: 40, open: { try FileSink(directory: dir.path, views: Self.views) }) { run, sink in
                let files = try #require(sink as? FileSink)
                #expect(try files.epochs(view: "orders") == run.ordersEpochs, "\(run.prefix): epoch files")
                #expect(try Self.temporaryFiles(dir.path + "/orders").isEmpty, "\(run.prefix): temporary files left")
            }
        } catch {
            Issue.record("seed \(seed): \(error)")
            throw error
        }
    }

    /// The bytes of the files, against the format docs/format.md documents.
    @Test func fileFormatIsExact() throws {
        let dir = try ScratchDirectory("file-sink")
        defer { dir.remove() }
        let sink = try FileSink(directory: dir.path, views: Self.views)
        let a = OrderRow(id: 42, price: 3, time: 4, name: "say \"hi\", ok")
        let b = OrderRow(id: -1, price: 1, time: 2, name: "line1\nline2")
        let c = OrderRow(id: Int64.min, price: 5, time: 3, name: "日本語")
        try sink.deliver(view: "orders", epoch: 7, changes: SinkFixtures.ordersChunk([(.insert, a), (.insert, b), (.insert, a)]))
        try sink.deliver(view: "orders", epoch: 12, changes: SinkFixtures.ordersChunk([(.insert, c), (.delete, a), (.delete, b)]))
        try sink.deliver(view: "orders", epoch: 13, changes: SinkFixtures.ordersChunk([]))

        func file(_ name: String) throws -> String {
            String(decoding: try Data(contentsOf: URL(fileURLWithPath: dir.path + "/orders/" + name)), as: UTF8.self)
        }
        #expect(try file("schema.csv") == "id,price,at,name\nint64,decimal(2),timestamp,string\n")
        #expect(try file("00000000000000000007.csv") == """
            op,id,price,at,name
            +,42,123.45,2024-02-29 23:59:59,"say ""hi"", ok"
            +,42,123.45,2024-02-29 23:59:59,"say ""hi"", ok"
            +,-1,-0.05,1969-12-31 23:59:59.999999,"line1
            line2"

            """)
        #expect(try file("00000000000000000012.csv") == """
            op,id,price,at,name
            -,42,123.45,2024-02-29 23:59:59,"say ""hi"", ok"
            -,-1,-0.05,1969-12-31 23:59:59.999999,"line1
            line2"
            +,-9223372036854775808,-92233720368547758.08,2000-01-01 00:00:00.000001,日本語

            """)
        #expect(try file("00000000000000000013.csv") == "op,id,price,at,name\n")
        #expect(try sink.epochs(view: "orders") == [7, 12, 13])
        #expect(try sink.epochs(view: "totals") == [])
        #expect(try sink.rows(view: "orders") == SinkFixtures.sorted([a.fields, c.fields]))
        #expect(try FileSink(directory: dir.path, views: Self.views).deliveredEpoch(view: "orders") == 13)
    }

    /// Power cuts at every point of opening and delivering, on a simulated file
    /// system that keeps only what was synced (or a random part of the rest):
    /// after the crash the sink holds exactly the last acknowledged epoch or the
    /// one in flight, never a temporary file, and finishes the run correctly.
    @Test(arguments: ModelSeeds.first(60))
    func powerLossKeepsEveryAcknowledgedEpoch(seed: UInt64) throws {
        var g = SeededGenerator(seed: seed &+ 1000)
        var model = Multiset<OrderRow>()
        var history: [Epoch: [[String]]] = [0: []]
        var plan: [(Epoch, Chunk)] = []
        var epoch: Epoch = 0
        for _ in 0..<6 {
            epoch += 1 + g.next() % 3
            var changes: [(ChangeOp, OrderRow)] = []
            for _ in 0..<(g.next() % 5) {
                let held = model.counts.keys.sorted { $0.fields.lexicographicallyPrecedes($1.fields) }
                if !held.isEmpty, g.next() % 3 == 0 {
                    let row = held[Int(g.next() % UInt64(held.count))]
                    changes.append((.delete, row))
                    model.add(row, -1)
                } else {
                    let row = OrderRow.random(&g)
                    changes.append((.insert, row))
                    model.add(row, 1)
                }
            }
            plan.append((epoch, SinkFixtures.ordersChunk(changes)))
            history[epoch] = SinkFixtures.expected(model)
        }
        let views = ["orders": SinkFixtures.orders]
        let fs = PowerLossFileSystem()
        fs.cutPower(afterMutations: Int(g.next() % 70))
        var acknowledged: Epoch = 0, inFlight: Epoch = 0
        do {
            let sink = try FileSink(directory: "/data/sink", views: views, fileSystem: fs)
            for (e, chunk) in plan {
                inFlight = e
                try sink.deliver(view: "orders", epoch: e, changes: chunk)
                acknowledged = e
            }
        } catch DataflowError.sink {
            // The power went.
        }
        for mode in PowerLossFileSystem.CrashMode.allCases {
            let context = "seed \(seed) \(mode) acknowledged \(acknowledged) in flight \(inFlight)"
            let survivor = fs.crash(seed: seed, mode: mode)
            let sink = try FileSink(directory: "/data/sink", views: views, fileSystem: survivor)
            let delivered = try sink.deliveredEpoch(view: "orders")
            #expect(delivered == acknowledged || delivered == inFlight, "\(context): delivered \(delivered)")
            #expect(try sink.rows(view: "orders") == history[delivered], "\(context): rows")
            #expect(try survivor.directoryEntries("/data/sink/orders").allSatisfy { !$0.hasSuffix(".tmp") }, "\(context)")
            for (e, chunk) in plan { try sink.deliver(view: "orders", epoch: e, changes: chunk) }
            #expect(try sink.rows(view: "orders") == SinkFixtures.expected(model), "\(context): after finishing")
            #expect(try sink.epochs(view: "orders") == plan.map(\.0), "\(context): epoch files")
        }
    }

    @Test func staleTemporaryFilesAreDeleted() throws {
        let dir = try ScratchDirectory("file-sink")
        defer { dir.remove() }
        let sink = try FileSink(directory: dir.path, views: Self.views)
        try sink.deliver(view: "orders", epoch: 3, changes: SinkFixtures.ordersChunk([(.insert, OrderRow(id: 1, price: 0, time: 0, name: "x"))]))
        let stale = dir.path + "/orders/00000000000000000004.csv.tmp"
        try Data("op,id,price,at,name\n+,1,0.00,1970-01-01 00:00:00,half".utf8).write(to: URL(fileURLWithPath: stale))
        let reopened = try FileSink(directory: dir.path, views: Self.views)
        #expect(!FileManager.default.fileExists(atPath: stale))
        #expect(try reopened.deliveredEpoch(view: "orders") == 3)
        #expect(try reopened.rows(view: "orders") == [["1", "0.00", "1970-01-01 00:00:00", "x"]])
    }

    /// Hand-damaged epoch files: `rows` names the file and line of the problem.
    @Test func damagedFilesAreReported() throws {
        let damage: [(content: String, line: Int, says: String)] = [
            ("op,id,price,at,name\n+,1,0.00,1970-01-01 00:00:00,x\n-,2,0.00,1970-01-01 00:00:00,x\n", 3, "does not hold"),
            ("op,id,price,at,name\n+,1,0.00,1970-01-01 00:00:00\n", 2, "4 fields"),
            ("op,id,price,at,name\n+,1,0.001,1970-01-01 00:00:00,x\n", 2, "decimal(2)"),
            ("op,id,price,at,name\n+,1,0.00,1970-02-30 00:00:00,x\n", 2, "timestamp"),
            ("op,id,price,at,name\n*,1,0.00,1970-01-01 00:00:00,x\n", 2, "not + or -"),
            ("op,id,price,name,at\n", 1, "header"),
            ("op,id,price,at,name\n\n+,1,0.00,1970-01-01 00:00:00,\"x\ny\"z\n", 4, "after a closing quote"),
            ("op,id,price,at,name\n+,1,0.00,1970-01-01 00:00:00,x", 2, "cut short"),
        ]
        for (i, d) in damage.enumerated() {
            let dir = try ScratchDirectory("file-sink")
            defer { dir.remove() }
            let sink = try FileSink(directory: dir.path, views: Self.views)
            let name = dir.path + "/orders/00000000000000000005.csv"
            try Data(d.content.utf8).write(to: URL(fileURLWithPath: name))
            let message = sinkError("damage \(i)") { _ = try sink.rows(view: "orders") }
            #expect(message?.contains("\(name) line \(d.line)") == true, "damage \(i): \(message ?? "")")
            #expect(message?.contains(d.says) == true, "damage \(i): \(message ?? "")")
            // Delivering needs the content too, so it fails the same way.
            let reopened = try FileSink(directory: dir.path, views: Self.views)
            #expect(try reopened.deliveredEpoch(view: "orders") == 5)
            _ = sinkError("damage \(i), deliver") {
                try reopened.deliver(view: "orders", epoch: 6, changes: SinkFixtures.ordersChunk([]))
            }
        }
    }

    @Test func reopeningWithAnotherSchemaIsRefused() throws {
        let dir = try ScratchDirectory("file-sink")
        defer { dir.remove() }
        _ = try FileSink(directory: dir.path, views: Self.views)
        var rescaled = SinkFixtures.orders
        rescaled.columns[1].type = .decimal(scale: 3)
        let m1 = sinkError("decimal scale") { _ = try FileSink(directory: dir.path, views: ["orders": rescaled]) }
        #expect(m1?.contains("decimal(2)") == true && m1?.contains("decimal(3)") == true && m1?.contains(dir.path) == true, "\(m1 ?? "")")
        let renamed = Schema([ColumnDef("k", .bytes), ColumnDef("count", .int64)])
        let m2 = sinkError("renamed column") { _ = try FileSink(directory: dir.path, views: ["totals": renamed]) }
        #expect(m2?.contains("\"totals\"") == true && m2?.contains("k:string,n:int64") == true, "\(m2 ?? "")")
        _ = try FileSink(directory: dir.path, views: Self.views)

        // Epoch files without a schema file: refused, not guessed.
        try FileManager.default.removeItem(atPath: dir.path + "/orders/schema.csv")
        try Data("op,id,price,at,name\n".utf8).write(to: URL(fileURLWithPath: dir.path + "/orders/00000000000000000001.csv"))
        _ = sinkError("no schema file") { _ = try FileSink(directory: dir.path, views: Self.views) }
    }

    @Test func badNamesAndCallsAreRefused() throws {
        let dir = try ScratchDirectory("file-sink")
        defer { dir.remove() }
        for bad in ["", ".", "..", "a/b"] {
            _ = sinkError("view name \(bad.debugDescription)") { _ = try FileSink(directory: dir.path, views: [bad: SinkFixtures.totals]) }
        }
        let twice = Schema([ColumnDef("a", .int64), ColumnDef("a", .int64)])
        _ = sinkError("duplicate column") { _ = try FileSink(directory: dir.path, views: ["t": twice]) }
        let sink = try FileSink(directory: dir.path, views: Self.views)
        _ = sinkError("unknown view") { _ = try sink.deliveredEpoch(view: "nope") }
        _ = sinkError("wrong chunk types") { try sink.deliver(view: "orders", epoch: 1, changes: SinkFixtures.totalsChunk([])) }
        #expect(try sink.epochs(view: "orders") == [])
    }

    /// Any bytes, as fields, come back from the CSV reader as written.
    @Test(arguments: ModelSeeds.first(8))
    func csvRoundTripsAnyBytes(seed: UInt64) throws {
        var g = SeededGenerator(seed: seed)
        let alphabet: [UInt8] = Array(",\"\r\na \t".utf8) + [0, 0xFF, 0xC3, 0xA9]
        var records: [[[UInt8]]] = []
        var bytes: [UInt8] = []
        for _ in 0..<200 {
            let record = (0..<(1 + Int(g.next() % 5))).map { _ in
                (0..<Int(g.next() % 6)).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] }
            }
            records.append(record)
            FileSinkCSV.appendRecord(&bytes, record)
        }
        let read = try FileSinkCSV.records(bytes)
        #expect(read.map(\.fields) == records, "seed \(seed)")
        #expect(read.first?.line == 1, "seed \(seed)")
    }
}
