import CSQLite

/// A failed call into SQLite: what was being done, SQLite's (extended) result
/// code and the connection's error message. `SQLiteSink` turns it into a
/// `DataflowError.sink` naming the database file and the view.
struct SQLiteFailure: Error, CustomStringConvertible {
    /// What was being done, e.g. `prepare "SELECT ..."` or `step "INSERT ..."`.
    var operation: String
    /// The extended result code (`SQLITE_BUSY`, `SQLITE_CONSTRAINT_PRIMARYKEY`...).
    var code: Int32
    var message: String

    var description: String { "\(operation): \(message) (SQLite result code \(code))" }
}
