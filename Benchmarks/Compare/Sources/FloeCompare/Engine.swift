/// The engines compared, and what each one does, in the words the report prints.
enum EngineKind: String, CaseIterable, Sendable {
    case floe
    /// The same store read the way a new user writes it (see `settings`): the
    /// "obvious code" column next to Floe's tuned paths.
    case floeObvious = "floe-obvious"
    case rocksdb, leveldb

    /// Floe's engines; the others are the peers Floe's ratios compare against.
    var isFloe: Bool { self == .floe || self == .floeObvious }

    var label: String {
        switch self {
        case .floe: "Floe"
        case .floeObvious: "Floe, obvious code"
        case .rocksdb: "RocksDB"
        case .leveldb: "LevelDB"
        }
    }

    /// What makes one batch of writes durable.
    var durability: String {
        switch self {
        case .floe, .floeObvious:
            "each batch is one epoch: put per key, seal, then sync (SSTs built, written, fsynced, renamed into place) and commit (manifest delta created-if-absent, fsynced) in a background task while the next epoch is written (2 epochs in flight); the write phase ends when the last commit returns. No WAL."
        case .rocksdb:
            "each batch is one WriteBatch written with WriteOptions.sync = true (the WAL is fsynced before the write returns); memtable flush and compaction run in the background."
        case .leveldb:
            "each batch is one WriteBatch written with WriteOptions.sync = true (the log is fsynced before the write returns); memtable compaction runs in the background."
        }
    }

    /// Settings beyond the shared ones (cache, block size, bloom bits).
    var settings: String {
        switch self {
        case .floe:
            "lz4 blocks on every level (Floe's default puts zstd on the bottom level; overridden for parity), block cache as given plus Floe's separate 64 MiB index/filter cache, background compaction on (1 worker + intra-L0 lane, each on its own thread at nice 10, Floe's default; the peers' background threads run at normal priority), otherwise StoreOptions defaults."
        case .floeObvious:
            "the store of Floe's column, read as a new user writes it: gets with `try await store.get(...)` from inside an actor (one actor per reader thread), full and short scans with `for try await (key, value) in try await store.scan(...)` (rows as [UInt8] arrays; a short scan breaks after its rows) from an actor, where Floe's column reads borrowed rows with forEachRow from a nonisolated function."
        case .rocksdb:
            "lz4 compression on every level, block-based table with an LRU block cache as given and a full bloom filter, index and filter blocks outside the cache (default), otherwise Options defaults (64 MiB write buffer, 2 background jobs, leveled compaction); reads verify checksums (default)."
        case .leveldb:
            "snappy compression (LevelDB's C API offers only none or snappy; snappy is the fast block compressor closest to lz4), LRU block cache as given, bloom filter, reads verify checksums (set for parity with Floe and RocksDB), otherwise Options defaults (4 MiB write buffer, 2 MiB files)."
        }
    }

    func open(dir: String, config: EngineConfig) async throws -> any BenchEngine {
        switch self {
        case .floe: try await FloeEngine.open(dir: dir, config: config)
        case .floeObvious: try await FloeObviousEngine.open(dir: dir, config: config)
        case .rocksdb: try RocksDBEngine(dir: dir, config: config)
        case .leveldb: try LevelDBEngine(dir: dir, config: config)
        }
    }
}

/// One opened store. Each phase runs its whole loop inside the engine, so the
/// existential is crossed once per phase, never per key.
protocol BenchEngine: AnyObject, Sendable {
    /// Applies `plan` batch by batch; returns when the last batch is durable.
    func apply(_ plan: WritePlan, keys: BenchKeys, values: BenchValues) async throws
    func get(_ key: [UInt8]) async throws -> [UInt8]?
    /// Reads every key and value in order; returns the number of keys.
    func scanAll() async throws -> Int
    /// `count` gets of random written (or, with `missing`, never-written) keys split
    /// over `threads` threads; returns how many found a value.
    func readRandom(keys: BenchKeys, count: Int, threads: Int, seed: UInt64, missing: Bool) async throws -> Int
    /// `count` times: seek to a random written key and read `length` keys from there.
    /// Returns the rows read.
    func seekRandom(keys: BenchKeys, count: Int, length: Int, seed: UInt64) async throws -> Int
    /// Runs compaction until nothing is left to do.
    func quiesce() async throws
    func close() async throws
    /// Engine-reported figures worth printing beside the measured ones.
    func notes() -> [String: Double]
}

struct EngineError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
