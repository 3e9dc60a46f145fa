import Floe
import CSQLite

/// One connection to an SQLite database file (the C API's `sqlite3*`), closed
/// when the last reference (the connection or one of its statements) goes.
///
/// Not thread-safe by itself (it is opened with `SQLITE_OPEN_NOMUTEX`): its
/// owner must not use it from two threads at once. `SQLiteSink` keeps it
/// inside a `Lock`.
///
/// Every failure throws `SQLiteFailure`.
final class SQLiteConnection {
    let handle: OpaquePointer
    let path: String

    /// Opens (creating if missing) the database at `path`, with extended result
    /// codes and a busy timeout: a call that finds the database locked by
    /// another connection (in this process or another) retries for up to
    /// `busyTimeoutMilliseconds` before failing with `SQLITE_BUSY`.
    init(path: String, busyTimeoutMilliseconds: Int32) throws(SQLiteFailure) {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            if let db { sqlite3_close_v2(db) }
            throw SQLiteFailure(operation: "open", code: rc, message: message)
        }
        handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
    }

    deinit { sqlite3_close_v2(handle) }

    /// A prepared statement for `sql` (one statement; trailing text is an error),
    /// prepared as persistent because it is reused for many rows.
    ///
    /// The tail SQLite returns points into the C string given to it, so it is read
    /// inside `withCString`: a `String` passed straight to the C function becomes a
    /// temporary copy freed when the call returns, and reading the tail after that
    /// read freed memory (which failed now and then with "more than one statement").
    func prepare(_ sql: String) throws(SQLiteFailure) -> SQLiteStatement {
        var statement: OpaquePointer?
        let (rc, trailing) = sql.withCString { text -> (Int32, Bool) in
            var tail: UnsafePointer<CChar>?
            let rc = sqlite3_prepare_v3(handle, text, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, &tail)
            guard rc == SQLITE_OK, let tail, tail.pointee != 0 else { return (rc, false) }
            return (rc, !String(cString: tail).allSatisfy(\.isWhitespace))
        }
        guard rc == SQLITE_OK, let statement else {
            sqlite3_finalize(statement)
            throw failure(rc, "prepare \"\(sql)\"")
        }
        if trailing {
            sqlite3_finalize(statement)
            throw SQLiteFailure(operation: "prepare \"\(sql)\"", code: SQLITE_MISUSE, message: "more than one statement")
        }
        return SQLiteStatement(connection: self, handle: statement, sql: sql)
    }

    /// Runs `sql` (one statement, no parameters), discarding any rows.
    func execute(_ sql: String) throws(SQLiteFailure) {
        let statement = try prepare(sql)
        try statement.run()
    }

    /// The rows the last INSERT, UPDATE or DELETE changed.
    var changes: Int64 { sqlite3_changes64(handle) }

    /// True inside an explicit transaction (BEGIN without COMMIT or ROLLBACK yet).
    var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// A failure of `operation` with result code `code` and the connection's message.
    func failure(_ code: Int32, _ operation: String) -> SQLiteFailure {
        SQLiteFailure(operation: operation, code: code, message: String(cString: sqlite3_errmsg(handle)))
    }
}
