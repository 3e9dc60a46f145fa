import CSQLite
import Dispatch
import Foundation
import FloeTesting
import Testing
@testable import FloeDataflow
import Floe

@Suite struct SQLiteSinkTests {
    static let views = ["orders": SinkFixtures.orders, "totals": SinkFixtures.totals]

    /// The rows of `orders` read with raw SQL, as the test formats them.
    static func rawOrders(_ db: SQLiteConnection) throws -> [[String]] {
        let select = try db.prepare("SELECT id, price, at, name FROM orders")
        var rows: [[String]] = []
        while try select.step() {
            #expect(select.type(0) == SQLITE_INTEGER && select.type(1) == SQLITE_TEXT && select.type(2) == SQLITE_TEXT && select.type(3) == SQLITE_TEXT)
            rows.append([String(select.int64(0)), select.string(1), select.string(2), select.string(3)])
        }
        select.reset()
        return SinkFixtures.sorted(rows)
    }

    static func rawProgress(_ db: SQLiteConnection, _ view: String) throws -> Int64? {
        let s = try db.prepare("SELECT epoch FROM floe_sink_progress WHERE view = ?1")
        try s.bind(1, view)
        defer { s.reset() }
        return try s.step() ? s.int64(0) : nil
    }

    /// The model run, with a second connection that holds read transactions
    /// open across deliveries: delivery must not wait for it, and what it sees
    /// must be the content of exactly the epoch it sees as delivered.
    @Test(arguments: ModelSeeds.first(16))
    func randomEpochsMatchModel(seed: UInt64) throws {
        let dir = try ScratchDirectory("sqlite-sink")
        defer { dir.remove() }
        let path = dir.path + "/sink.db"
        var run = SinkModelRun(seed: seed)
        var readerOpen = false
        var snapshot: (epoch: Int64, rows: [[String]])?
        let reader = try { () throws -> SQLiteConnection in
            _ = try SQLiteSink(path: path, views: Self.views)
            return try SQLiteConnection(path: path, busyTimeoutMilliseconds: 5_000)
        }()
        do {
            try run.run(epochs: 40, open: { try SQLiteSink(path: path, views: Self.views) }) { run, _ in
                if readerOpen, let snap = snapshot {
                    // Still inside the same read transaction: the same snapshot.
                    #expect(try Self.rawProgress(reader, "orders") ?? 0 == snap.epoch, "\(run.prefix): snapshot moved")
                    #expect(try Self.rawOrders(reader) == snap.rows, "\(run.prefix): snapshot rows moved")
                    if run.seed % 2 == 0 || run.step % 3 == 0 {
                        try reader.execute("COMMIT")
                        readerOpen = false
                    }
                } else if run.step % 2 == 1 {
                    try reader.execute("BEGIN")
                    readerOpen = true
                    let epoch = try Self.rawProgress(reader, "orders") ?? 0
                    let rows = try Self.rawOrders(reader)
                    #expect(rows == run.ordersHistory[Epoch(epoch)], "\(run.prefix): a reader sees epoch \(epoch) with other rows")
                    snapshot = (epoch, rows)
                }
            }
        } catch {
            Issue.record("seed \(seed): \(error)")
            throw error
        }
        if readerOpen { try reader.execute("COMMIT") }
    }

    @Test func tableColumnsAndStoredValuesAreExact() throws {
        let dir = try ScratchDirectory("sqlite-sink")
        defer { dir.remove() }
        let path = dir.path + "/sink.db"
        let sink = try SQLiteSink(path: path, views: Self.views)
        let rows: [(ChangeOp, OrderRow)] = (0..<SinkFixtures.prices.count).map { i in
            (.insert, OrderRow(id: SinkFixtures.ids[i], price: i, time: i, name: SinkFixtures.names[i + 2]))
        }
        try sink.deliver(view: "orders", epoch: 3, changes: SinkFixtures.ordersChunk(rows))

        let db = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 1_000)
        let info = try db.prepare("SELECT name, type, \"notnull\" FROM pragma_table_info('orders') ORDER BY cid")
        var columns: [String] = []
        while try info.step() { columns.append("\(info.string(0)) \(info.string(1)) \(info.int64(2))") }
        #expect(columns == ["id INTEGER 1", "price TEXT 1", "at TEXT 1", "name TEXT 1"])
        let mode = try db.prepare("PRAGMA journal_mode")
        #expect(try mode.step() && mode.string(0) == "wal")

        let select = try db.prepare("SELECT typeof(id), id, typeof(price), price, typeof(at), at, name FROM orders WHERE id = ?1")
        let expected: [(Int64, String, String, String)] = [
            (0, "0.00", "1970-01-01 00:00:00", "a,b"),
            (1, "-0.05", "1969-12-31 23:59:59", "say \"hi\""),
            (-1, "1.50", "1969-12-31 23:59:59.999999", "line1\nline2"),
            (42, "123.45", "2000-01-01 00:00:00.000001", "cr\r\nlf"),
            (Int64.max, "92233720368547758.07", "2024-02-29 23:59:59", "\""),
            (Int64.min, "-92233720368547758.08", "1900-03-01 12:34:56", ","),
        ]
        for (id, price, at, name) in expected {
            try select.bind(1, id)
            #expect(try select.step(), "row \(id)")
            #expect(select.string(0) == "integer" && select.int64(1) == id)
            #expect(select.string(2) == "text" && select.string(3) == price, "decimal of row \(id)")
            #expect(select.string(4) == "text" && select.string(5) == at, "timestamp of row \(id)")
            #expect(select.string(6) == name)
            select.reset()
        }
        #expect(try Self.rawProgress(db, "orders") == 3)
        #expect(try Self.rawProgress(db, "totals") == nil)
        #expect(try sink.deliveredEpoch(view: "totals") == 0)
    }

    /// A failing delete after other changes of the same epoch were applied:
    /// the transaction rolls them back and the progress row stays.
    @Test func failedEpochRollsBackWithItsProgress() throws {
        let dir = try ScratchDirectory("sqlite-sink")
        defer { dir.remove() }
        let path = dir.path + "/sink.db"
        let sink = try SQLiteSink(path: path, views: Self.views)
        let a = OrderRow(id: 1, price: 1, time: 1, name: "a"), b = OrderRow(id: 2, price: 2, time: 2, name: "b")
        try sink.deliver(view: "orders", epoch: 1, changes: SinkFixtures.ordersChunk([(.insert, a), (.insert, b)]))
        let before = try sink.rows(view: "orders")

        // Net: b deleted twice (held once: the first delete succeeds, the second
        // fails), a deleted once, c inserted.
        let c = OrderRow(id: 3, price: 3, time: 3, name: "c")
        let message = sinkError("over-delete") {
            try sink.deliver(view: "orders", epoch: 2, changes: SinkFixtures.ordersChunk([
                (.delete, a), (.insert, c), (.delete, b), (.delete, b),
            ]))
        }
        #expect(message?.contains(path) == true && message?.contains("\"orders\"") == true, "names file and view: \(message ?? "")")
        #expect(try sink.rows(view: "orders") == before)
        #expect(try sink.deliveredEpoch(view: "orders") == 1)
        let db = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 1_000)
        #expect(try Self.rawProgress(db, "orders") == 1)
        #expect(try Self.rawOrders(db) == SinkFixtures.sorted([a.fields, b.fields]))

        // The same epoch, valid, goes through afterwards.
        try sink.deliver(view: "orders", epoch: 2, changes: SinkFixtures.ordersChunk([(.delete, b), (.insert, c)]))
        #expect(try Self.rawProgress(db, "orders") == 2)
        #expect(try Self.rawOrders(db) == SinkFixtures.sorted([a.fields, c.fields]))
    }

    @Test func reopeningWithAnotherSchemaIsRefused() throws {
        let dir = try ScratchDirectory("sqlite-sink")
        defer { dir.remove() }
        let path = dir.path + "/sink.db"
        _ = try SQLiteSink(path: path, views: Self.views)
        let renamed = Schema([ColumnDef("k", .bytes), ColumnDef("count", .int64)])
        let m1 = sinkError("renamed column") { _ = try SQLiteSink(path: path, views: ["totals": renamed]) }
        #expect(m1?.contains("totals") == true && m1?.contains("count") == true && m1?.contains(path) == true, "\(m1 ?? "")")
        let retyped = Schema([ColumnDef("k", .bytes), ColumnDef("n", .decimal(scale: 0))])
        let m2 = sinkError("int64 to decimal") { _ = try SQLiteSink(path: path, views: ["totals": retyped]) }
        #expect(m2?.contains("TEXT") == true, "\(m2 ?? "")")
        // Same SQL types, another decimal scale: caught by the recorded schema.
        var rescaled = SinkFixtures.orders
        rescaled.columns[1].type = .decimal(scale: 3)
        let m3 = sinkError("decimal scale") { _ = try SQLiteSink(path: path, views: ["orders": rescaled]) }
        #expect(m3?.contains("decimal(2)") == true && m3?.contains("decimal(3)") == true, "\(m3 ?? "")")
        // The matching schema still opens.
        _ = try SQLiteSink(path: path, views: Self.views)

        // A name SQLite does not tell apart from an existing table's.
        let m4 = sinkError("case of the name") { _ = try SQLiteSink(path: path, views: ["Totals": SinkFixtures.totals]) }
        #expect(m4?.contains("\"totals\"") == true, "\(m4 ?? "")")
        // A table with rows that the sink did not write (no progress row).
        let db = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 1_000)
        try db.execute("CREATE TABLE mine (k TEXT NOT NULL, n INTEGER NOT NULL)")
        try db.execute("INSERT INTO mine VALUES ('a', 1)")
        let m5 = sinkError("foreign rows") { _ = try SQLiteSink(path: path, views: ["mine": SinkFixtures.totals]) }
        #expect(m5?.contains("not written by this sink") == true, "\(m5 ?? "")")
        try db.execute("DELETE FROM mine")
        let adopted = try SQLiteSink(path: path, views: ["mine": SinkFixtures.totals])
        #expect(try adopted.deliveredEpoch(view: "mine") == 0)
    }

    @Test func namesNeedingQuotesWork() throws {
        let dir = try ScratchDirectory("sqlite-sink")
        defer { dir.remove() }
        let path = dir.path + "/sink.db"
        let schema = Schema([ColumnDef("rowid", .int64), ColumnDef("select", .bytes), ColumnDef("a \"b\"", .int64)])
        let view = "weird \"view\"; name"
        let sink = try SQLiteSink(path: path, views: [view: schema])
        var chunk = Chunk(schema: schema)
        for (op, r, s) in [(ChangeOp.insert, Int64(1), "x"), (.insert, 1, "x"), (.insert, 2, "y"), (.delete, 1, "x")] {
            chunk.appendOp(op)
            chunk.appendInt(0, r)
            chunk.appendBytes(1, Array(s.utf8))
            chunk.appendInt(2, r * 10)
        }
        try sink.deliver(view: view, epoch: 1, changes: chunk)
        #expect(try sink.rows(view: view) == [["1", "x", "10"], ["2", "y", "20"]])
        let reopened = try SQLiteSink(path: path, views: [view: schema])
        #expect(try reopened.deliveredEpoch(view: view) == 1)

        for bad in ["", "sqlite_x", "FLOE_SINK_progress"] {
            _ = sinkError("view name \(bad)") { _ = try SQLiteSink(path: path, views: [bad: schema]) }
        }
        _ = sinkError("views differing in case") { _ = try SQLiteSink(path: path, views: ["Orders": schema, "orders": schema]) }
        let dup = Schema([ColumnDef("a", .int64), ColumnDef("A", .int64)])
        _ = sinkError("columns differing in case") { _ = try SQLiteSink(path: path, views: ["t": dup]) }
        let hidden = Schema([ColumnDef("ROWID", .int64), ColumnDef("_rowid_", .int64), ColumnDef("oid", .int64)])
        _ = sinkError("every row id name taken") { _ = try SQLiteSink(path: path, views: ["t": hidden]) }
        _ = sinkError("unknown view") { _ = try reopened.rows(view: "nope") }
        _ = sinkError("wrong chunk types") {
            try reopened.deliver(view: view, epoch: 2, changes: SinkFixtures.totalsChunk([]))
        }
    }

    /// Another connection holding the write lock for a while: delivery waits
    /// for it (busy timeout); with a timeout shorter than the hold it fails
    /// cleanly and applies nothing.
    @Test func waitsForAnotherWriter() throws {
        let dir = try ScratchDirectory("sqlite-sink")
        defer { dir.remove() }
        let path = dir.path + "/sink.db"
        let row = OrderRow(id: 5, price: 3, time: 4, name: "w")
        do {
            let sink = try SQLiteSink(path: path, views: Self.views, busyTimeoutMilliseconds: 10_000)
            let released = try holdWriteLock(path: path, milliseconds: 300)
            try sink.deliver(view: "orders", epoch: 1, changes: SinkFixtures.ordersChunk([(.insert, row)]))
            released.wait()
            #expect(try sink.deliveredEpoch(view: "orders") == 1)
        }
        let impatient = try SQLiteSink(path: path, views: Self.views, busyTimeoutMilliseconds: 20)
        let released = try holdWriteLock(path: path, milliseconds: 800)
        let message = sinkError("busy") {
            try impatient.deliver(view: "orders", epoch: 2, changes: SinkFixtures.ordersChunk([(.insert, row)]))
        }
        #expect(message?.contains("locked") == true || message?.contains("busy") == true, "\(message ?? "")")
        released.wait()
        #expect(try impatient.deliveredEpoch(view: "orders") == 1)
        #expect(try impatient.rows(view: "orders") == [row.fields])
    }

    /// Starts a thread holding `BEGIN IMMEDIATE` on `path` for `milliseconds`;
    /// returns once the lock is held. The returned semaphore is signalled at release.
    private func holdWriteLock(path: String, milliseconds: Int) throws -> DispatchSemaphore {
        let held = DispatchSemaphore(value: 0), released = DispatchSemaphore(value: 0)
        let thread = Thread {
            do {
                let db = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 5_000)
                try db.execute("BEGIN IMMEDIATE")
                held.signal()
                usleep(UInt32(milliseconds * 1000))
                try db.execute("COMMIT")
            } catch {
                held.signal()
            }
            released.signal()
        }
        thread.start()
        held.wait()
        return released
    }

    /// The `sqlite3` shell, another process, reads what was delivered.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3")))
    func theSqliteShellReadsTheTables() throws {
        let dir = try ScratchDirectory("sqlite-sink")
        defer { dir.remove() }
        let path = dir.path + "/sink.db"
        let sink = try SQLiteSink(path: path, views: Self.views)
        try sink.deliver(view: "orders", epoch: 4, changes: SinkFixtures.ordersChunk([
            (.insert, OrderRow(id: 42, price: 3, time: 4, name: "日本語")),
        ]))
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        shell.arguments = ["-readonly", path, "SELECT id, price, at, name FROM orders; SELECT epoch FROM floe_sink_progress;"]
        let out = Pipe()
        shell.standardOutput = out
        try shell.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        shell.waitUntilExit()
        #expect(shell.terminationStatus == 0)
        #expect(text == "42|123.45|2024-02-29 23:59:59|日本語\n4\n")
    }
}
