#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Floe
import Synchronization

/// A `ViewSink` that writes each epoch of each view as its own CSV file:
/// `<directory>/<view>/<epoch as 20 digits>.csv`, holding a header
/// `op,<column names>` and one line per change, `-,<fields>` for a delete and
/// `+,<fields>` for an insert (deletes first), fields in `ValueText` form and
/// quoted as `FileSinkCSV` describes. `<directory>/<view>/schema.csv` records
/// the view's column names and types. docs/format.md, "File sink", is the
/// full format.
///
/// Invariants:
/// - An epoch file is complete or absent: it is written under a temporary name
///   (`<epoch>.csv.tmp`), fsynced, renamed into place, and the directory is
///   fsynced before `deliver` returns. Temporary files left by a crash are
///   deleted when the sink is opened.
/// - The delivered epoch of a view is the largest epoch file present; the
///   content of a view is all its epoch files replayed in epoch order, lines in
///   file order (never a delete of a row not held).
/// - A file holds an epoch's net changes (`SinkNetChanges`), so each distinct
///   row appears either only as deletes or only as inserts in it.
///
/// `deliver` checks deletes against the content, which it reads from the files
/// once (on the first `deliver` of a view) and then keeps in memory: memory in
/// proportion to the view. `rows(view:)` always replays the files from disk.
/// `epochs(view:)` lists the epoch files present, for a harness to find gaps.
///
/// Names: a view name must be a single path component (not empty, `.` or
/// `..`, no `/` or NUL); column names must be non-empty and distinct.
///
/// Errors: `DataflowError.sink` naming the directory, the view and, for bad
/// content, the file and line. If the directory sync after a rename fails, the
/// epoch may or may not survive a crash: the sink then refuses further calls
/// (open a new one, which reads what is on disk).
///
/// Thread-safety: all state is behind a `Lock`; calls are serialized.
public final class FileSink: ViewSink {
    /// The root directory, which holds one directory per view.
    public let directory: String
    private let state: Lock<State>

    /// Opens the sink in `directory` (created if missing) for `views` (name to
    /// schema): creates each view's directory and schema file, or checks the
    /// schema file against the view's schema; deletes stale temporary files.
    ///
    /// Throws `DataflowError.sink` for a name that is not allowed, a schema that
    /// differs from the recorded one, a view directory with epoch files but no
    /// schema file, or a file-system failure.
    public convenience init(directory: String, views: [String: Schema]) throws {
        try self.init(directory: directory, views: views, fileSystem: PosixFileSystem())
    }

    /// As the public initializer, on `fileSystem` (tests use a simulated one
    /// that loses unsynced writes at a power cut).
    package init(directory: String, views: [String: Schema], fileSystem: any FileSystem) throws {
        self.directory = directory
        self.state = Lock(try State(fs: fileSystem, directory: directory, views: views))
    }

    public func deliveredEpoch(view: String) throws -> Epoch {
        try state.withLock { s in
            try s.checkUsable()
            return try s.view(view).delivered
        }
    }

    public func deliver(view: String, epoch: Epoch, changes: Chunk) throws {
        try state.withLock { s in try s.deliver(view: view, epoch: epoch, changes: changes) }
    }

    public func rows(view: String) throws -> [[String]] {
        try state.withLock { s in
            try s.checkUsable()
            let counts = try s.replay(view)
            if s.views[view]?.counts == nil { s.views[view]?.counts = counts }
            return try counts.sortedRows()
        }
    }

    /// The epochs of `view` that have a file now, ascending (read from the
    /// directory, not from memory). A harness compares it with the epochs
    /// delivered to count gaps and duplicates.
    public func epochs(view: String) throws -> [Epoch] {
        try state.withLock { s in
            try s.checkUsable()
            return try s.epochFiles(view)
        }
    }

    /// The name of an epoch's file: 20 digits, zero-padded, and `.csv`.
    public static func fileName(epoch: Epoch) -> String {
        let digits = String(epoch)
        return String(repeating: "0", count: 20 - digits.count) + digits + ".csv"
    }

    /// The epoch an epoch file's name stands for; nil for any other name.
    static func epoch(fileName name: String) -> Epoch? {
        let utf8 = Array(name.utf8)
        guard utf8.count == 24, name.hasSuffix(".csv"), utf8[0..<20].allSatisfy({ (48...57).contains($0) }) else { return nil }
        return Epoch(name.prefix(20))
    }

    static let schemaFileName = "schema.csv"
    static let temporarySuffix = ".tmp"
}

extension FileSink {
    /// One view: its schema, its directory and what has been delivered.
    private struct ViewState {
        let schema: Schema
        let path: String
        var delivered: Epoch
        /// The content, loaded from the files on the first `deliver`.
        var counts: SinkRowCounts?
    }

    private struct State {
        let fs: any FileSystem
        let directory: String
        var views: [String: ViewState] = [:]
        /// Set when the durability of a rename is unknown.
        var broken: String?

        init(fs: any FileSystem, directory: String, views: [String: Schema]) throws {
            self.fs = fs
            self.directory = directory
            try FileSink.validate(views, directory: directory)
            do {
                try fs.makeDirectories(directory)
            } catch {
                throw DataflowError.sink("file sink \(directory): creating the directory: \(error.reason)")
            }
            for (name, schema) in views.sorted(by: { $0.key < $1.key }) {
                self.views[name] = try Self.open(fs: fs, directory: directory, view: name, schema: schema)
            }
        }

        /// Prepares one view's directory; returns its state with the delivered epoch.
        private static func open(fs: any FileSystem, directory: String, view: String, schema: Schema) throws -> ViewState {
            let path = directory + "/" + view
            func fail(_ what: String, _ error: FileSystemError) -> DataflowError {
                .sink("file sink \(directory): view \"\(view)\": \(what): \(error.reason)")
            }
            do {
                try fs.makeDirectory(path)
                try fs.fsyncDirectory(directory)
            } catch where error.code == EEXIST && error.call == "mkdir" {
                // Opened before.
            } catch {
                throw fail("creating \(path)", error)
            }
            var names: [String]
            do {
                names = try fs.directoryEntries(path)
                var removed = false
                for name in names where name.hasSuffix(FileSink.temporarySuffix) {
                    try fs.unlink(path + "/" + name)
                    removed = true
                }
                if removed { try fs.fsyncDirectory(path) }
                names.removeAll { $0.hasSuffix(FileSink.temporarySuffix) }
            } catch {
                throw fail("listing \(path) and deleting stale temporary files", error)
            }
            let epochs = names.compactMap(FileSink.epoch(fileName:))
            let schemaPath = path + "/" + FileSink.schemaFileName
            var expected: [UInt8] = []
            FileSinkCSV.appendRecord(&expected, schema.names.map { Array($0.utf8) })
            FileSinkCSV.appendRecord(&expected, schema.types.map { Array($0.description.utf8) })
            if names.contains(FileSink.schemaFileName) {
                let stored: [UInt8]
                do { stored = try readFile(fs, schemaPath) } catch { throw fail("reading \(schemaPath)", error) }
                guard stored == expected else {
                    throw DataflowError.sink("file sink \(directory): view \"\(view)\": \(schemaPath) records the schema "
                        + "\(Self.describe(stored)) but the view's schema is \(schema.description); use another directory")
                }
            } else {
                guard epochs.isEmpty else {
                    throw DataflowError.sink("file sink \(directory): view \"\(view)\": \(path) has \(epochs.count) epoch files "
                        + "but no \(FileSink.schemaFileName)")
                }
                do { try writeAtomically(fs, expected, to: schemaPath, in: path) } catch { throw fail("writing \(schemaPath)", error.underlying) }
            }
            return ViewState(schema: schema, path: path, delivered: epochs.max() ?? 0)
        }

        /// A schema file's content as `name:type,...` for a message.
        private static func describe(_ bytes: [UInt8]) -> String {
            guard let records = try? FileSinkCSV.records(bytes), records.count == 2, records[0].fields.count == records[1].fields.count else {
                return "(unreadable: \(String(decoding: bytes.prefix(200), as: UTF8.self).debugDescription))"
            }
            return zip(records[0].fields, records[1].fields)
                .map { String(decoding: $0, as: UTF8.self) + ":" + String(decoding: $1, as: UTF8.self) }
                .joined(separator: ",")
        }

        func checkUsable() throws {
            if let broken {
                throw DataflowError.sink("file sink \(directory): unusable after an earlier failure (\(broken)); open the sink again")
            }
        }

        func view(_ name: String) throws -> ViewState {
            guard let v = views[name] else {
                throw DataflowError.sink("file sink \(directory): unknown view \"\(name)\" (views: \(views.keys.sorted().joined(separator: ", ")))")
            }
            return v
        }

        func epochFiles(_ name: String) throws -> [Epoch] {
            let v = try view(name)
            do {
                return try fs.directoryEntries(v.path).compactMap(FileSink.epoch(fileName:)).sorted()
            } catch {
                throw DataflowError.sink("file sink \(directory): view \"\(name)\": listing \(v.path): \(error.reason)")
            }
        }

        /// The content of `name` from its epoch files, replayed in order.
        func replay(_ name: String) throws -> SinkRowCounts {
            let v = try view(name)
            let types = v.schema.types
            var counts = SinkRowCounts(types: types)
            var header: [[UInt8]] = [Array("op".utf8)]
            header += v.schema.names.map { Array($0.utf8) }
            for epoch in try epochFiles(name) {
                let file = v.path + "/" + FileSink.fileName(epoch: epoch)
                func bad(_ line: Int, _ reason: String) -> DataflowError {
                    .sink("file sink \(directory): view \"\(name)\": \(file) line \(line): \(reason)")
                }
                let bytes: [UInt8]
                do { bytes = try readFile(fs, file) } catch {
                    throw DataflowError.sink("file sink \(directory): view \"\(name)\": reading \(file): \(error.reason)")
                }
                let records: [FileSinkCSV.Record]
                do { records = try FileSinkCSV.records(bytes) } catch { throw bad(error.line, error.reason) }
                guard let first = records.first, first.fields == header else {
                    throw bad(1, "the header is not \"op,\(v.schema.names.joined(separator: ","))\"")
                }
                for record in records.dropFirst() {
                    guard record.fields.count == types.count + 1 else {
                        throw bad(record.line, "\(record.fields.count) fields where the header has \(types.count + 1)")
                    }
                    let op = record.fields[0]
                    guard op == [UInt8(ascii: "+")] || op == [UInt8(ascii: "-")] else {
                        throw bad(record.line, "the op is \(String(decoding: op, as: UTF8.self).debugDescription), not + or -")
                    }
                    var key: [UInt8] = []
                    for (c, type) in types.enumerated() {
                        let field = record.fields[c + 1]
                        if type.isInteger {
                            guard let value = field.withUnsafeBytes({ ValueText.parse($0, type) }) else {
                                throw bad(record.line, "column \(v.schema.names[c]): "
                                    + "\(String(decoding: field, as: UTF8.self).debugDescription) is not a valid \(type)")
                            }
                            RowCodec.appendInt(&key, value)
                        } else {
                            RowCodec.appendLength(&key, field.count)
                            key += field
                        }
                    }
                    if op[0] == UInt8(ascii: "-") {
                        guard counts.count(key) > 0 else {
                            throw bad(record.line, "deletes a row the sink does not hold (after the lines and epochs before it)")
                        }
                        counts.add(key, -1)
                    } else {
                        counts.add(key, 1)
                    }
                }
            }
            return counts
        }

        mutating func deliver(view name: String, epoch: Epoch, changes: Chunk) throws {
            try checkUsable()
            var v = try view(name)
            func fail(_ message: String) -> DataflowError {
                .sink("file sink \(directory): view \"\(name)\": epoch \(epoch): \(message)")
            }
            guard changes.types == v.schema.types, changes.isWellFormed else {
                throw fail("the changes have column types \(changes.types) (well formed: \(changes.isWellFormed)) "
                    + "but the view has \(v.schema.types)")
            }
            if epoch <= v.delivered { return }
            var counts = try v.counts ?? replay(name)
            let net = SinkNetChanges(changes)
            for entry in net.entries where entry.net < 0 && counts.count(entry.key) < -entry.net {
                throw fail("deletes \(-entry.net) of row \(changes.fields(entry.row)) but the sink holds "
                    + "\(counts.count(entry.key)); nothing of epoch \(epoch) was applied")
            }
            var bytes: [UInt8] = []
            FileSinkCSV.appendRecord(&bytes, [Array("op".utf8)] + v.schema.names.map { Array($0.utf8) })
            for entry in net.entries {
                var fields: [[UInt8]] = [[UInt8(ascii: entry.net < 0 ? "-" : "+")]]
                for (c, type) in changes.types.enumerated() {
                    fields.append(type.isInteger ? Array(ValueText.format(changes.int(c, entry.row), type).utf8) : Array(changes.bytes(c, entry.row)))
                }
                for _ in 0..<entry.net.magnitude { FileSinkCSV.appendRecord(&bytes, fields) }
            }
            let file = v.path + "/" + FileSink.fileName(epoch: epoch)
            do {
                try Self.writeAtomically(fs, bytes, to: file, in: v.path)
            } catch {
                if error.renamed {
                    broken = "syncing \(v.path) after renaming \(file) into place: \(error.underlying.reason)"
                    throw fail("\(file) was written but syncing its directory failed (\(error.underlying.reason)); "
                        + "it may not survive a crash")
                }
                throw fail("writing \(file): \(error.underlying.reason); nothing of the epoch was applied")
            }
            for entry in net.entries { counts.add(entry.key, entry.net) }
            v.counts = counts
            v.delivered = epoch
            views[name] = v
        }

        /// A failed `writeAtomically`: the file-system error, and whether the
        /// rename had happened (then only the directory sync failed: the new
        /// name is visible but may not be durable).
        private struct AtomicWriteFailure: Error {
            var underlying: FileSystemError
            var renamed: Bool
        }

        /// Writes `bytes` to `path` atomically and durably: a temporary file in
        /// `directory`, fsync, rename, fsync of `directory`. On a failure before
        /// the rename nothing is visible and the temporary file is removed.
        private static func writeAtomically(_ fs: any FileSystem, _ bytes: [UInt8], to path: String,
                                            in directory: String) throws(AtomicWriteFailure) {
            let temporary = path + FileSink.temporarySuffix
            do throws(FileSystemError) {
                // A temporary file of an attempt that failed in this process.
                try? fs.unlink(temporary)
                let fd = try fs.open(temporary, .createExclusive)
                do throws(FileSystemError) {
                    try fs.writeAll(fd, bytes)
                    try fs.fsync(fd)
                } catch {
                    try? fs.close(fd)
                    throw error
                }
                try fs.close(fd)
                try fs.rename(temporary, path)
            } catch {
                try? fs.unlink(temporary)
                throw AtomicWriteFailure(underlying: error, renamed: false)
            }
            do throws(FileSystemError) {
                try fs.fsyncDirectory(directory)
            } catch {
                throw AtomicWriteFailure(underlying: error, renamed: true)
            }
        }

        private static func readFile(_ fs: any FileSystem, _ path: String) throws(FileSystemError) -> [UInt8] {
            let fd = try fs.open(path, .read)
            defer { try? fs.close(fd) }
            let size = try fs.status(fd).size
            var bytes = [UInt8](repeating: 0, count: size)
            var result: Result<Int, FileSystemError> = .success(0)
            bytes.withUnsafeMutableBytes { buffer in
                do throws(FileSystemError) {
                    result = .success(try fs.preadFully(fd, into: buffer, offset: 0))
                } catch {
                    result = .failure(error)
                }
            }
            let n = try result.get()
            bytes.removeLast(size - n)
            return bytes
        }

        private func readFile(_ fs: any FileSystem, _ path: String) throws(FileSystemError) -> [UInt8] {
            try Self.readFile(fs, path)
        }
    }

    /// Checks view and column names (see the type's documentation).
    private static func validate(_ views: [String: Schema], directory: String) throws {
        for (name, schema) in views {
            guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.utf8.contains(0) else {
                throw DataflowError.sink("file sink \(directory): view name \(name.debugDescription) is not a single path component")
            }
            guard schema.count > 0 else { throw DataflowError.sink("file sink \(directory): view \"\(name)\" has no columns") }
            guard schema.names.allSatisfy({ !$0.isEmpty }), Set(schema.names).count == schema.count else {
                throw DataflowError.sink("file sink \(directory): view \"\(name)\": column names must be non-empty and distinct "
                    + "(\(schema.names.map(\.debugDescription).joined(separator: ", ")))")
            }
        }
    }
}
