import Floe
import FloeTesting
import FloeS3
#if canImport(Glibc)
import Glibc
#endif

/// What the benchmarks of one `floe bench` run share, like db_bench's one DB:
/// the options, the key and value generators, the store (opened on first use)
/// and what is known about which keys it holds.
final class BenchContext {
    /// Which of the keys `0..<num` the shared store holds, so reads can check what they find.
    enum KeyPresence {
        /// None: a new store nothing has written to yet.
        case none
        /// All of them, since a fill.
        case all
        /// Some: written by an earlier run, or partly deleted.
        case unknown
    }

    let options: BenchOptions
    let storeOptions: StoreOptions
    let keys: BenchKeys
    let values: BenchValues
    let table = TableID(1)
    var presence = KeyPresence.none
    /// The store holds no keys outside `0..<num` (false for a store an earlier run wrote).
    var onlyBenchKeys = true
    /// Every key of `0..<num` and no other: what full and short scans can check against.
    var exactKeySet: Bool { presence == .all && onlyBenchKeys }
    /// Problems that fail the run after the report is printed (e.g. `--max-space-amp`).
    var failures: [String] = []

    private var objectStore: (any ObjectStore)?
    /// The latency model under the store with `--store s3sim`.
    private(set) var simulated: LatencyModelObjectStore?
    private var db: StateStore?
    private var createdDir: String?

    init(options: BenchOptions) {
        self.options = options
        self.storeOptions = options.storeOptions()
        self.keys = BenchKeys(count: options.num, keySize: options.keySize, seed: options.seed)
        self.values = BenchValues(size: options.valueSize, seed: options.seed)
    }

    /// Where the shared store lives, for the header.
    var storeDescription: String {
        let place = options.store == "memory" ? "memory" : (options.path ?? createdDir ?? "a temp dir (removed at the end)")
        guard options.store == "s3sim" else { return place }
        let m = options.simModel
        let cache = options.simCacheDir.map { ", disk cache \($0)" } ?? ""
        return "s3sim\(cache) (GET \(m.readLatencySeconds * 1000) ms, PUT \(m.writeLatencySeconds * 1000) ms, \(m.bytesPerSecond / 1e6) MB/s a request, \(m.maxConcurrentRequests) in flight) over \(place)"
    }

    /// The shared store, opened (and its directory created) on first use.
    func store() async throws -> StateStore {
        if let db { return db }
        let os = try objectStoreForRun()
        let opened = try await StateStore.open(objectStore: os, options: storeOptions)
        presence = opened.committedEpoch == 0 ? .none : .unknown
        onlyBenchKeys = opened.committedEpoch == 0
        db = opened
        return opened
    }

    /// Closes the shared store and opens it again from its manifest; returns the seconds the open took.
    func reopen() async throws -> Double {
        let old = try await store()
        try await old.close()
        // Drop the old instance (and its caches) before timing, so the figure is the open alone.
        db = nil
        let os = try objectStoreForRun()
        var reopened: StateStore?
        let seconds = try await Timer.measure { reopened = try await StateStore.open(objectStore: os, options: storeOptions) }
        db = reopened
        return seconds
    }

    /// Closes the store and removes the temp directory this run created.
    func finish() async throws {
        if let db { try await db.close() }
        db = nil
        objectStore = nil
        if let dir = createdDir { try removeTree(dir) }
    }

    private func objectStoreForRun() throws -> any ObjectStore {
        if let objectStore { return objectStore }
        let os: any ObjectStore
        if options.store == "memory" {
            os = MemoryObjectStore()
        } else if let path = options.path, try FloeStoreURL.localPath(path) == nil {
            // s3://... (docs/s3.md): the benchmarks run against the bucket.
            os = try FloeStoreURL.objectStore(for: path)
        } else {
            let local: LocalObjectStore
            if let path = try options.path.map({ try FloeStoreURL.localPath($0)! }) {
                local = try LocalObjectStore(root: path)
            } else {
                let dir = try makeTempDir(prefix: "floe-bench")
                createdDir = dir
                local = try LocalObjectStore(root: dir)
            }
            if options.store == "s3sim" {
                let sim = try LatencyModelObjectStore(wrapping: local, model: options.simModel)
                simulated = sim
                if let dir = options.simCacheDir {
                    os = try DiskCachedObjectStore(remote: sim, namespace: "s3sim",
                                                   options: DiskCacheOptions(directory: dir, capacityBytes: 1 << 30, writeThrough: true))
                } else {
                    os = sim
                }
            } else {
                os = local
            }
        }
        objectStore = os
        return os
    }
}

/// A fresh directory `/tmp/<prefix>-XXXXXX`.
func makeTempDir(prefix: String) throws -> String {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buf -> String? in
        guard mkdtemp(buf.baseAddress!) != nil else { return nil }
        return String(decoding: buf.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    guard let made else { throw WorkloadError("cannot create a temp directory under /tmp: \(String(cString: strerror(errno)))") }
    return made
}
