import CSQLite

/// A prepared statement of a `SQLiteConnection` (the C API's `sqlite3_stmt*`),
/// reused across rows: bind the parameters, `step` until it returns false (or
/// stop early), then `reset` before binding again. Finalized when released; it
/// keeps its connection open until then.
///
/// Parameters and columns are numbered as SQLite numbers them: parameters from
/// 1, result columns from 0. Every failure throws `SQLiteFailure`.
final class SQLiteStatement {
    let connection: SQLiteConnection
    let handle: OpaquePointer
    let sql: String

    init(connection: SQLiteConnection, handle: OpaquePointer, sql: String) {
        self.connection = connection
        self.handle = handle
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    func bind(_ parameter: Int32, _ value: Int64) throws(SQLiteFailure) {
        let rc = sqlite3_bind_int64(handle, parameter, value)
        guard rc == SQLITE_OK else { throw connection.failure(rc, "bind parameter \(parameter) of \"\(sql)\"") }
    }

    /// Binds `bytes` as TEXT (stored as given: SQLite does not check UTF-8).
    /// An empty buffer binds the empty string, not NULL.
    func bind(_ parameter: Int32, text bytes: UnsafeRawBufferPointer) throws(SQLiteFailure) {
        guard bytes.count <= Int(Int32.max) else {
            throw SQLiteFailure(operation: "bind parameter \(parameter) of \"\(sql)\"", code: SQLITE_TOOBIG,
                                message: "a text of \(bytes.count) bytes is too long")
        }
        let rc: Int32
        if let base = bytes.baseAddress, bytes.count > 0 {
            rc = sqlite3_bind_text(handle, parameter, base.assumingMemoryBound(to: CChar.self), Int32(bytes.count), Self.transient)
        } else {
            // A null pointer would bind NULL: give SQLite a real, empty string.
            rc = sqlite3_bind_text(handle, parameter, "", 0, Self.transient)
        }
        guard rc == SQLITE_OK else { throw connection.failure(rc, "bind parameter \(parameter) of \"\(sql)\"") }
    }

    func bind(_ parameter: Int32, _ text: String) throws(SQLiteFailure) {
        var text = text
        var failure: SQLiteFailure?
        text.withUTF8 { utf8 in
            do throws(SQLiteFailure) {
                try bind(parameter, text: UnsafeRawBufferPointer(utf8))
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }

    /// Runs the statement to its next row: true when a row is ready to read,
    /// false when the statement is done. On failure the statement is reset.
    func step() throws(SQLiteFailure) -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        let error = connection.failure(rc, "step \"\(sql)\"")
        sqlite3_reset(handle)
        throw error
    }

    /// Makes the statement ready to run again (bindings are kept).
    func reset() { sqlite3_reset(handle) }

    /// Steps to the end, discarding rows, then resets.
    func run() throws(SQLiteFailure) {
        while try step() {}
        reset()
    }

    var columnCount: Int32 { sqlite3_column_count(handle) }

    /// The storage class of a column of the current row (`SQLITE_INTEGER`, `SQLITE_TEXT`...).
    func type(_ column: Int32) -> Int32 { sqlite3_column_type(handle, column) }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    /// A column of the current row as its text bytes (the empty array for NULL).
    func bytes(_ column: Int32) -> [UInt8] {
        guard let p = sqlite3_column_text(handle, column) else { return [] }
        let n = Int(sqlite3_column_bytes(handle, column))
        return Array(UnsafeBufferPointer(start: p, count: n))
    }

    /// A column of the current row as text (invalid UTF-8 replaced by U+FFFD).
    func string(_ column: Int32) -> String { String(decoding: bytes(column), as: UTF8.self) }

    /// SQLite's `SQLITE_TRANSIENT`: bound bytes are copied before the call returns.
    private static var transient: sqlite3_destructor_type { unsafeBitCast(-1, to: sqlite3_destructor_type.self) }
}
