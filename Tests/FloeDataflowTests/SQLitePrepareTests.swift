import CSQLite
import Testing
@testable import FloeDataflow

/// `SQLiteConnection.prepare`: one statement per call, trailing whitespace
/// allowed, and the check of what follows the statement made while the SQL
/// text is still alive. `floe eotest` found sinks failing to open now and then
/// with "more than one statement" for the sink's own single statements: the
/// tail pointer SQLite returns pointed into the temporary C string Swift made
/// for the call, and was read after that string was freed.
@Suite struct SQLitePrepareTests {
    @Test func oneStatementWithTrailingWhitespacePrepares() throws {
        let dir = try ScratchDirectory("sqlite-prepare")
        defer { dir.remove() }
        let db = try SQLiteConnection(path: dir.path + "/db", busyTimeoutMilliseconds: 1000)
        let s = try db.prepare("SELECT 1  \n\t")
        #expect(try s.step())
        #expect(s.int64(0) == 1)
        s.reset()
    }

    @Test func aSecondStatementIsRefused() throws {
        let dir = try ScratchDirectory("sqlite-prepare")
        defer { dir.remove() }
        let db = try SQLiteConnection(path: dir.path + "/db", busyTimeoutMilliseconds: 1000)
        do {
            _ = try db.prepare("SELECT 1; SELECT 2")
            Issue.record("two statements were prepared as one")
        } catch {
            #expect(error.code == SQLITE_MISUSE)
            #expect(error.message == "more than one statement")
        }
    }

    /// Many long statements, each built fresh (as the sink builds its own), with
    /// allocations between the calls that reuse freed memory: not one may be
    /// taken for two statements. Before the fix a few in ten thousand were.
    @Test func longStatementsBuiltFreshNeverLookLikeTwo() throws {
        let dir = try ScratchDirectory("sqlite-prepare")
        defer { dir.remove() }
        let db = try SQLiteConnection(path: dir.path + "/db", busyTimeoutMilliseconds: 1000)
        try db.execute("CREATE TABLE \"eo_order_windows\" (\"category\" TEXT, \"window_start\" TEXT, \"window_end\" TEXT, "
            + "\"order_count\" INTEGER, \"window_revenue\" TEXT)")
        var noise: [[UInt8]] = []
        for i in 0..<20_000 {
            let table = "\"eo_order_windows\""
            let match = ["category", "window_start", "window_end", "order_count", "window_revenue"].enumerated()
                .map { "\"\($0.element)\" = ?\($0.offset + 1)" }.joined(separator: " AND ")
            let sql = "DELETE FROM \(table) WHERE rowid = (SELECT rowid FROM \(table) WHERE \(match) LIMIT 1)"
            _ = try db.prepare(sql)
            noise.append(Array(repeating: UInt8(truncatingIfNeeded: i | 1), count: sql.utf8.count + 1))
            if noise.count > 8 { noise.removeFirst() }
        }
    }
}
