import CSQLite
import Floe
import Synchronization

/// A `ViewSink` that keeps each view as a table of an SQLite database file,
/// through SQLite's C API.
///
/// Layout (created when missing, checked when present):
/// - one table per view, named after the view, with the view's columns in
///   order: int64 as `INTEGER`, decimal as `TEXT` in its exact `ValueText` form
///   (`-12.50` at scale 2: never a floating-point `REAL`), timestamp as `TEXT`
///   `YYYY-MM-DD HH:MM:SS` (with `.ffffff` when it has microseconds), string as
///   `TEXT` holding the bytes as given; all `NOT NULL`. Rows are a multiset:
///   duplicates are separate table rows. An index `floe_sink_rows_<view>` on
///   all columns makes a delete a lookup instead of a scan.
/// - `floe_sink_progress(view TEXT PRIMARY KEY, epoch INTEGER NOT NULL)`: the
///   last epoch delivered per view.
/// - `floe_sink_schema(view TEXT PRIMARY KEY, schema TEXT NOT NULL)`: each
///   view's `Schema.description`, so that reopening with another decimal scale
///   (same SQL types) is refused rather than misread.
///
/// Each `deliver` is one transaction (`BEGIN IMMEDIATE` ... `COMMIT`): the net
/// deletes (each removes exactly one matching row), the net inserts and the
/// progress upsert commit together or not at all. The database is put in WAL
/// journal mode with `synchronous=FULL`, so a commit is durable when `deliver`
/// returns and readers in other processes (the `sqlite3` shell, a dashboard)
/// neither block delivery nor see half an epoch. Calls that find the database
/// locked by another writer wait up to the busy timeout, then fail.
///
/// Names: SQL identifiers are quoted, so any view and column name works except
/// an empty one, one holding a NUL byte, view names starting with `sqlite_` or
/// `floe_sink_` (reserved), and names that differ only in ASCII case (SQLite
/// treats them as the same identifier).
///
/// Errors: `DataflowError.sink` naming the database file and the view. A
/// failed `deliver` rolls its transaction back; should even the rollback fail,
/// the sink refuses further calls (open a new one).
///
/// Thread-safety: the connection is used under a `Lock`; calls are serialized.
public final class SQLiteSink: ViewSink {
    /// The database file.
    public let path: String
    private let state: Lock<State>

    /// Opens (creating if missing) the database at `path` and makes sure it has a
    /// table for each of `views` (name to schema) with the schema's columns.
    ///
    /// Throws `DataflowError.sink` when the file cannot be opened or put in WAL
    /// mode, a name is not allowed, or an existing table's columns or recorded
    /// schema differ from the view's.
    public init(path: String, views: [String: Schema], busyTimeoutMilliseconds: Int32 = 5_000) throws {
        self.path = path
        let state = try State(path: path, views: views, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        self.state = Lock(state)
    }

    public func deliveredEpoch(view: String) throws -> Epoch {
        try state.withLock { s in
            try s.checkUsable()
            _ = try s.table(view)
            do {
                return try s.progress(view)
            } catch let f as SQLiteFailure {
                throw s.error(view, "reading the delivered epoch: \(f)")
            }
        }
    }

    public func deliver(view: String, epoch: Epoch, changes: Chunk) throws {
        try state.withLock { s in try s.deliver(view: view, epoch: epoch, changes: changes) }
    }

    public func rows(view: String) throws -> [[String]] {
        try state.withLock { s in try s.rows(view: view) }
    }
}

extension SQLiteSink {
    /// The statements of one view's table.
    private struct Table {
        let schema: Schema
        let insert: SQLiteStatement
        let deleteOne: SQLiteStatement
        let select: SQLiteStatement
    }

    /// The connection and its prepared statements; only touched under the mutex.
    private final class State {
        let path: String
        let db: SQLiteConnection
        let begin, commit, rollback, readProgress, writeProgress: SQLiteStatement
        let tables: [String: Table]
        /// Set when a rollback failed: the connection's state is unknown.
        var broken: String?

        init(path: String, views: [String: Schema], busyTimeoutMilliseconds: Int32) throws {
            self.path = path
            let prefix = "SQLite sink \(path)"
            try SQLiteSink.validate(views, prefix: prefix)
            do {
                db = try SQLiteConnection(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
                let mode = try Self.text(db, "PRAGMA journal_mode=WAL")
                guard mode.lowercased() == "wal" else {
                    throw DataflowError.sink("\(prefix): cannot use WAL journal mode (the database reports \"\(mode)\")")
                }
                try db.execute("PRAGMA synchronous=FULL")
                try db.execute("BEGIN IMMEDIATE")
                do {
                    try db.execute("CREATE TABLE IF NOT EXISTS floe_sink_progress (view TEXT PRIMARY KEY, epoch INTEGER NOT NULL)")
                    try db.execute("CREATE TABLE IF NOT EXISTS floe_sink_schema (view TEXT PRIMARY KEY, schema TEXT NOT NULL)")
                    for (name, schema) in views.sorted(by: { $0.key < $1.key }) {
                        do {
                            try Self.setUpTable(db, name, schema, prefix: prefix)
                        } catch let f as SQLiteFailure {
                            throw DataflowError.sink("\(prefix): view \"\(name)\": setting up its table: \(f)")
                        }
                    }
                    try db.execute("COMMIT")
                } catch {
                    if db.isInTransaction { try? db.execute("ROLLBACK") }
                    throw error
                }
                begin = try db.prepare("BEGIN IMMEDIATE")
                commit = try db.prepare("COMMIT")
                rollback = try db.prepare("ROLLBACK")
                readProgress = try db.prepare("SELECT epoch FROM floe_sink_progress WHERE view = ?1")
                writeProgress = try db.prepare(
                    "INSERT INTO floe_sink_progress (view, epoch) VALUES (?1, ?2) ON CONFLICT (view) DO UPDATE SET epoch = excluded.epoch")
                var tables: [String: Table] = [:]
                for (name, schema) in views {
                    tables[name] = try Self.statements(db, name, schema, prefix: prefix)
                }
                self.tables = tables
            } catch let f as SQLiteFailure {
                throw DataflowError.sink("\(prefix): \(f)")
            }
        }

        /// Creates the view's table and index, or checks the existing table's
        /// columns; then records or checks the view's schema.
        private static func setUpTable(_ db: SQLiteConnection, _ name: String, _ schema: Schema, prefix: String) throws {
            let expected = schema.columns.map { ($0.name, $0.type == .int64 ? "INTEGER" : "TEXT") }
            let find = try db.prepare("SELECT type, name FROM sqlite_master WHERE name = ?1 COLLATE NOCASE")
            try find.bind(1, name)
            let (kind, existing) = try find.step() ? (find.string(0), find.string(1)) : (nil, name)
            find.reset()
            guard existing == name else {
                throw DataflowError.sink("\(prefix): view \"\(name)\": the database has a \(kind ?? "table") named \"\(existing)\", "
                    + "which SQLite does not tell apart from \"\(name)\"")
            }
            switch kind {
            case nil:
                let columns = expected.map { "\(quote($0.0)) \($0.1) NOT NULL" }.joined(separator: ", ")
                try db.execute("CREATE TABLE \(quote(name)) (\(columns))")
            case "table":
                let info = try db.prepare("SELECT name, type FROM pragma_table_info(?1) ORDER BY cid")
                try info.bind(1, name)
                var actual: [(String, String)] = []
                while try info.step() { actual.append((info.string(0), info.string(1).uppercased())) }
                info.reset()
                guard actual.map(\.0) == expected.map(\.0), actual.map(\.1) == expected.map(\.1) else {
                    func list(_ cs: [(String, String)]) -> String { cs.map { "\($0.0) \($0.1)" }.joined(separator: ", ") }
                    throw DataflowError.sink("\(prefix): view \"\(name)\": the existing table has columns (\(list(actual))) "
                        + "but the view needs (\(list(expected))); drop or rename the table, or use another database")
                }
            case let other?:
                throw DataflowError.sink("\(prefix): view \"\(name)\": the database has a \(other) of that name, not a table")
            }
            let indexColumns = schema.names.map(quote).joined(separator: ", ")
            try db.execute("CREATE INDEX IF NOT EXISTS \(quote("floe_sink_rows_" + name)) ON \(quote(name)) (\(indexColumns))")
            if kind != nil {
                // A table with rows but no delivered epoch was not written by a sink:
                // delivering from epoch 1 on top of its rows would be wrong.
                let progress = try db.prepare("SELECT count(*) FROM floe_sink_progress WHERE view = ?1")
                try progress.bind(1, name)
                let tracked = try progress.step() && progress.int64(0) > 0
                progress.reset()
                let any = try db.prepare("SELECT EXISTS (SELECT 1 FROM \(quote(name)))")
                let nonEmpty = try any.step() && any.int64(0) != 0
                any.reset()
                guard tracked || !nonEmpty else {
                    throw DataflowError.sink("\(prefix): view \"\(name)\": the table has rows but floe_sink_progress has no epoch "
                        + "for it, so they were not written by this sink; empty or drop the table, or use another database")
                }
            }
            let recorded = try db.prepare("SELECT schema FROM floe_sink_schema WHERE view = ?1")
            try recorded.bind(1, name)
            let stored = try recorded.step() ? recorded.string(0) : nil
            recorded.reset()
            if let stored {
                guard stored == schema.description else {
                    throw DataflowError.sink("\(prefix): view \"\(name)\": the table was written with schema \(stored) "
                        + "but the view's schema is \(schema.description)")
                }
            } else {
                let insert = try db.prepare("INSERT INTO floe_sink_schema (view, schema) VALUES (?1, ?2)")
                try insert.bind(1, name)
                try insert.bind(2, schema.description)
                try insert.run()
            }
        }

        private static func statements(_ db: SQLiteConnection, _ name: String, _ schema: Schema, prefix: String) throws -> Table {
            let table = quote(name)
            let columns = schema.names.map(quote)
            let parameters = (1...columns.count).map { "?\($0)" }
            let rowid = try rowidName(schema, view: name, prefix: prefix)
            let match = zip(columns, parameters).map { "\($0) = \($1)" }.joined(separator: " AND ")
            return Table(
                schema: schema,
                insert: try db.prepare("INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(parameters.joined(separator: ", ")))"),
                deleteOne: try db.prepare("DELETE FROM \(table) WHERE \(rowid) = (SELECT \(rowid) FROM \(table) WHERE \(match) LIMIT 1)"),
                select: try db.prepare("SELECT \(columns.joined(separator: ", ")) FROM \(table)"))
        }

        /// The first column of the first row `sql` returns, as text ("" if none).
        private static func text(_ db: SQLiteConnection, _ sql: String) throws -> String {
            let statement = try db.prepare(sql)
            defer { statement.reset() }
            return try statement.step() ? statement.string(0) : ""
        }

        func error(_ view: String, _ message: String) -> DataflowError {
            .sink("SQLite sink \(path): view \"\(view)\": \(message)")
        }

        func checkUsable() throws {
            if let broken {
                throw DataflowError.sink("SQLite sink \(path): unusable after an earlier failure (\(broken)); open the sink again")
            }
        }

        func table(_ view: String) throws -> Table {
            guard let t = tables[view] else {
                throw DataflowError.sink("SQLite sink \(path): unknown view \"\(view)\" (views: \(tables.keys.sorted().joined(separator: ", ")))")
            }
            return t
        }

        func progress(_ view: String) throws -> Epoch {
            try readProgress.bind(1, view)
            defer { readProgress.reset() }
            guard try readProgress.step() else { return 0 }
            let epoch = readProgress.int64(0)
            guard readProgress.type(0) == SQLITE_INTEGER, epoch >= 0 else {
                throw error(view, "floe_sink_progress holds \"\(readProgress.string(0))\", not an epoch")
            }
            return Epoch(epoch)
        }

        func deliver(view: String, epoch: Epoch, changes: Chunk) throws {
            try checkUsable()
            let t = try table(view)
            guard changes.types == t.schema.types, changes.isWellFormed else {
                throw error(view, "epoch \(epoch): the changes have column types \(changes.types) "
                    + "(well formed: \(changes.isWellFormed)) but the view has \(t.schema.types)")
            }
            guard epoch <= Epoch(Int64.max) else { throw error(view, "epoch \(epoch) does not fit an SQLite INTEGER") }
            do {
                if epoch <= (try progress(view)) { return }
            } catch let f as SQLiteFailure {
                throw error(view, "reading the delivered epoch: \(f)")
            }
            let net = SinkNetChanges(changes)
            do {
                try begin.run()
                // Read again inside the transaction: another connection may have delivered.
                if epoch <= (try progress(view)) {
                    try rollback.run()
                    return
                }
                for entry in net.entries {
                    let statement = entry.net < 0 ? t.deleteOne : t.insert
                    try bind(statement, changes, entry.row)
                    for _ in 0..<entry.net.magnitude {
                        try statement.run()
                        if entry.net < 0 && db.changes != 1 {
                            throw error(view, "epoch \(epoch) deletes \(entry.net.magnitude) of row \(changes.fields(entry.row)) "
                                + "but the sink holds fewer; nothing of epoch \(epoch) was applied")
                        }
                    }
                }
                try writeProgress.bind(1, view)
                try writeProgress.bind(2, Int64(epoch))
                try writeProgress.run()
                try commit.run()
            } catch {
                if db.isInTransaction {
                    do {
                        try rollback.run()
                    } catch let f {
                        broken = "rollback of epoch \(epoch) of view \"\(view)\" failed: \(f)"
                    }
                }
                if let f = error as? SQLiteFailure { throw self.error(view, "epoch \(epoch): \(f); nothing of the epoch was applied") }
                throw error
            }
        }

        /// Binds row `row` of `chunk` to parameters 1...n of `statement`.
        private func bind(_ statement: SQLiteStatement, _ chunk: Chunk, _ row: Int) throws {
            for (c, type) in chunk.types.enumerated() {
                let parameter = Int32(c + 1)
                switch type {
                case .int64: try statement.bind(parameter, chunk.int(c, row))
                case .decimal, .timestamp: try statement.bind(parameter, ValueText.format(chunk.int(c, row), type))
                case .bytes: try chunk.withBytes(c, row) { try statement.bind(parameter, text: $0) }
                }
            }
        }

        func rows(view: String) throws -> [[String]] {
            try checkUsable()
            let t = try table(view)
            let select = t.select
            defer { select.reset() }
            var out: [[String]] = []
            do {
                while try select.step() {
                    var fields: [String] = []
                    fields.reserveCapacity(t.schema.count)
                    for (c, column) in t.schema.columns.enumerated() {
                        let i = Int32(c)
                        let wanted = column.type == .int64 ? SQLITE_INTEGER : SQLITE_TEXT
                        guard select.type(i) == wanted else {
                            throw error(view, "row \(out.count + 1): column \(column.name) holds \(select.string(i).debugDescription) "
                                + "stored as SQLite type \(select.type(i)), not \(wanted == SQLITE_INTEGER ? "INTEGER" : "TEXT")")
                        }
                        fields.append(column.type == .int64 ? String(select.int64(i)) : select.string(i))
                    }
                    out.append(fields)
                }
            } catch let f as SQLiteFailure {
                throw error(view, "reading the rows: \(f)")
            }
            return SinkRowOrder.sorted(out)
        }
    }

    /// Checks view and column names (see the type's documentation).
    private static func validate(_ views: [String: Schema], prefix: String) throws {
        var seen: [String: String] = [:]
        for (name, schema) in views {
            let folded = asciiFolded(name)
            guard !name.isEmpty, !name.utf8.contains(0) else {
                throw DataflowError.sink("\(prefix): view name \(name.debugDescription) is empty or holds a NUL byte")
            }
            guard !folded.hasPrefix("sqlite_"), !folded.hasPrefix("floe_sink_") else {
                throw DataflowError.sink("\(prefix): view name \"\(name)\" is reserved (names starting with sqlite_ or floe_sink_)")
            }
            if let other = seen[folded] {
                throw DataflowError.sink("\(prefix): views \"\(other)\" and \"\(name)\" differ only in case, and SQLite table names do not")
            }
            seen[folded] = name
            try validateColumns(schema, view: name, prefix: prefix)
        }
    }

    private static func validateColumns(_ schema: Schema, view: String, prefix: String) throws {
        guard schema.count > 0 else { throw DataflowError.sink("\(prefix): view \"\(view)\" has no columns") }
        var seen: Set<String> = []
        for name in schema.names {
            guard !name.isEmpty, !name.utf8.contains(0) else {
                throw DataflowError.sink("\(prefix): view \"\(view)\": column name \(name.debugDescription) is empty or holds a NUL byte")
            }
            guard seen.insert(asciiFolded(name)).inserted else {
                throw DataflowError.sink("\(prefix): view \"\(view)\": two columns named \"\(name)\" (SQLite ignores ASCII case)")
            }
        }
        _ = try rowidName(schema, view: view, prefix: prefix)
    }

    /// A name of the row id that no column shadows (deletes need the row id).
    private static func rowidName(_ schema: Schema, view: String, prefix: String) throws -> String {
        guard let rowid = ["rowid", "_rowid_", "oid"].first(where: { id in !schema.names.contains { asciiFolded($0) == id } }) else {
            throw DataflowError.sink("\(prefix): view \"\(view)\": columns named rowid, _rowid_ and oid hide the row id a delete needs")
        }
        return rowid
    }

    /// `name` as a quoted SQL identifier.
    static func quote(_ name: String) -> String {
        "\"" + name.replacing("\"", with: "\"\"") + "\""
    }

    /// `name` with ASCII letters lowercased, as SQLite compares identifiers.
    private static func asciiFolded(_ name: String) -> String {
        String(decoding: name.utf8.map { (65...90).contains($0) ? $0 + 32 : $0 }, as: UTF8.self)
    }
}
