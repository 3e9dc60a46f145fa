import Floe
import FloeDataflow
import FloeS3
#if canImport(Glibc)
import Glibc
#endif

/// What a pipeline left behind, read by `floe eotest` after its last child exited:
/// the store's views dumped exactly as `floe view dump` prints them, and the rows,
/// delivered epochs and epoch files of its SQLite and file sinks.
struct EotestOutputs {
    /// The store's committed epoch.
    var committedEpoch: UInt64
    /// Every view's CSV dump (header, sorted rows), by name.
    var dumps: [String: String] = [:]
    var schemas: [String: Schema] = [:]
    /// Each sink's rows and delivered epoch per view.
    var sqliteRows: [String: [[String]]] = [:]
    var fileRows: [String: [[String]]] = [:]
    var sqliteDelivered: [String: UInt64] = [:]
    var fileDelivered: [String: UInt64] = [:]
    /// The file sink's epoch files per view.
    var epochFiles: [String: [EotestCheck.EpochFile]] = [:]
    /// The committed late rows of every source partition (`source.<name>`), by source name.
    var lateRows: [String: [UInt64]] = [:]

    /// Reads the store at `store` (read-only) and the sinks in `sqlite` and `sinkDirectory`.
    /// The sinks are opened with `schemas` when given (the reference's), else with the store's.
    static func read(store path: String, sqlite: String, sinkDirectory: String, schemas given: [String: Schema]? = nil) async throws -> EotestOutputs {
        let store = FloeStoreURL.isRemote(path) ? try await StateStore.openReadOnly(url: path, options: CLILogging.storeOptions())
            : try await StateStore.openReadOnly(path: path, options: CLILogging.storeOptions())
        var out = EotestOutputs(committedEpoch: store.committedEpoch)
        do {
            let metadata = store.committedMetadata
            for name in PipelineMetadata.views(in: metadata) {
                let reader = try ViewReader(store: store, view: name)
                out.dumps[name] = try await reader.csv()
                out.schemas[name] = reader.schema
            }
            for (key, bytes) in metadata where key.hasPrefix("source.") {
                let name = String(key.dropFirst("source.".count))
                out.lateRows[name] = try PipelineMetadata.decodePositions(bytes, source: name).map(\.lateRows)
            }
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
        let schemas = given ?? out.schemas
        let sql = try SQLiteSink(path: sqlite, views: schemas)
        let files = try FileSink(directory: sinkDirectory, views: schemas)
        for name in schemas.keys {
            out.sqliteRows[name] = try sql.rows(view: name)
            out.sqliteDelivered[name] = try sql.deliveredEpoch(view: name)
            out.fileRows[name] = try files.rows(view: name)
            out.fileDelivered[name] = try files.deliveredEpoch(view: name)
            out.epochFiles[name] = listEpochFiles(directory: sinkDirectory, view: name)
        }
        return out
    }

    /// The epoch files of `view` in a file sink's directory, with their inode and
    /// modification time, read straight from the directory (no sink is opened, so
    /// nothing is tidied up between runs). Empty when the directory does not exist.
    static func listEpochFiles(directory: String, view: String) -> [EotestCheck.EpochFile] {
        let path = directory + "/" + view
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var out: [EotestCheck.EpochFile] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard let epoch = epoch(fileName: name) else { continue }
            var st = stat()
            guard stat(path + "/" + name, &st) == 0 else { continue }
            out.append(.init(epoch: epoch, identity: UInt64(st.st_ino),
                             modifiedNanos: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)))
        }
        return out.sorted { $0.epoch < $1.epoch }
    }

    /// The epoch of a file sink's epoch file name (20 digits and `.csv`, as
    /// `FileSink.fileName(epoch:)` writes it); nil for any other name.
    static func epoch(fileName name: String) -> UInt64? {
        let u = Array(name.utf8)
        guard u.count == 24, name.hasSuffix(".csv"), u[0..<20].allSatisfy({ (48...57).contains($0) }) else { return nil }
        return UInt64(String(decoding: u[0..<20], as: UTF8.self))
    }
}
