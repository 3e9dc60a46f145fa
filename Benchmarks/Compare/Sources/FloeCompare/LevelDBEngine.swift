import CLevelDB
import Floe

/// LevelDB through its C API (leveldb/c.h).
/// @unchecked: the handles are only read after init, and LevelDB's DB and
/// options are safe to share across threads for get, write and iterators.
final class LevelDBEngine: BenchEngine, @unchecked Sendable {
    let db: OpaquePointer
    let options: OpaquePointer
    let cache: OpaquePointer
    let filter: OpaquePointer
    let readOptions: OpaquePointer
    let writeOptions: OpaquePointer

    init(dir: String, config: EngineConfig) throws {
        options = leveldb_options_create()
        leveldb_options_set_create_if_missing(options, 1)
        leveldb_options_set_compression(options, Int32(leveldb_snappy_compression))
        cache = leveldb_cache_create_lru(config.cacheBytes)
        leveldb_options_set_cache(options, cache)
        leveldb_options_set_block_size(options, config.blockSize)
        // Unlike RocksDB's, LevelDB's options do not own the filter policy: freed in close().
        filter = leveldb_filterpolicy_create_bloom(Int32(config.bloomBitsPerKey))
        leveldb_options_set_filter_policy(options, filter)
        readOptions = leveldb_readoptions_create()
        leveldb_readoptions_set_verify_checksums(readOptions, 1)
        writeOptions = leveldb_writeoptions_create()
        leveldb_writeoptions_set_sync(writeOptions, 1)
        var err: UnsafeMutablePointer<CChar>?
        let handle = leveldb_open(options, dir, &err)
        if let message = LevelDBEngine.take(err) {
            leveldb_readoptions_destroy(readOptions)
            leveldb_writeoptions_destroy(writeOptions)
            leveldb_options_destroy(options)
            leveldb_filterpolicy_destroy(filter)
            leveldb_cache_destroy(cache)
            throw EngineError("leveldb_open \(dir): \(message)")
        }
        db = handle!
    }

    static func take(_ err: UnsafeMutablePointer<CChar>?) -> String? {
        guard let err else { return nil }
        defer { leveldb_free(err) }
        return String(cString: err)
    }

    static var version: String { "\(leveldb_major_version()).\(leveldb_minor_version())" }

    func apply(_ plan: WritePlan, keys: BenchKeys, values: BenchValues) async throws {
        let batch = leveldb_writebatch_create()
        defer { leveldb_writebatch_destroy(batch) }
        var i = 0
        while i < plan.ops.count {
            let end = min(plan.ops.count, i + plan.batchKeys)
            while i < end {
                let op = plan.ops[i]
                let k = keys.key(Int(op.key))
                k.withUnsafeBytes { kb in
                    let kp = kb.baseAddress!.assumingMemoryBound(to: CChar.self)
                    if op.isDelete {
                        leveldb_writebatch_delete(batch, kp, kb.count)
                    } else {
                        values.value(Int(op.value)).withUnsafeBytes { vb in
                            leveldb_writebatch_put(batch, kp, kb.count, vb.baseAddress!.assumingMemoryBound(to: CChar.self), vb.count)
                        }
                    }
                }
                i += 1
            }
            var err: UnsafeMutablePointer<CChar>?
            leveldb_write(db, writeOptions, batch, &err)
            if let m = Self.take(err) { throw EngineError("leveldb_write: \(m)") }
            leveldb_writebatch_clear(batch)
        }
    }

    func get(_ key: [UInt8]) async throws -> [UInt8]? {
        var err: UnsafeMutablePointer<CChar>?
        var len = 0
        let v = key.withUnsafeBytes { kb in
            leveldb_get(db, readOptions, kb.baseAddress!.assumingMemoryBound(to: CChar.self), kb.count, &len, &err)
        }
        if let m = Self.take(err) { throw EngineError("leveldb_get: \(m)") }
        guard let v else { return nil }
        defer { leveldb_free(v) }
        return Array(UnsafeRawBufferPointer(start: v, count: len))
    }

    /// One get through the C API, which mallocs a copy of the value; true if found.
    private func probe(_ key: [UInt8], _ failure: SharedError) -> Bool {
        var err: UnsafeMutablePointer<CChar>?
        var len = 0
        let v = key.withUnsafeBytes { kb in
            leveldb_get(db, readOptions, kb.baseAddress!.assumingMemoryBound(to: CChar.self), kb.count, &len, &err)
        }
        if let m = Self.take(err) { failure.record("leveldb_get: \(m)") }
        guard let v else { return false }
        leveldb_free(v)
        return true
    }

    func scanAll() async throws -> Int {
        let it = leveldb_create_iterator(db, readOptions)!
        defer { leveldb_iter_destroy(it) }
        leveldb_iter_seek_to_first(it)
        var n = 0, bytes = 0
        while leveldb_iter_valid(it) != 0 {
            var kl = 0, vl = 0
            _ = leveldb_iter_key(it, &kl)
            _ = leveldb_iter_value(it, &vl)
            n += 1
            bytes &+= kl &+ vl
            leveldb_iter_next(it)
        }
        var err: UnsafeMutablePointer<CChar>?
        leveldb_iter_get_error(it, &err)
        if let m = Self.take(err) { throw EngineError("leveldb iterator: \(m)") }
        guard bytes > 0 || n == 0 else { throw EngineError("scan returned empty rows") }
        return n
    }

    func readRandom(keys: BenchKeys, count: Int, threads: Int, seed: UInt64, missing: Bool) async throws -> Int {
        let found = SharedCount(), failure = SharedError()
        runThreads(threads) { t in
            let n = count / threads + (t == 0 ? count % threads : 0)
            var rng = SplitMix64(seed: seed &+ UInt64(t) &* 0x9E37_79B9)
            var hits = 0
            for _ in 0..<n {
                let i = Int(rng.next() % UInt64(keys.count))
                if self.probe(missing ? keys.missingKey(i) : keys.key(i), failure) { hits += 1 }
            }
            found.add(hits)
        }
        if let m = failure.message { throw EngineError(m) }
        return found.total
    }

    func seekRandom(keys: BenchKeys, count: Int, length: Int, seed: UInt64) async throws -> Int {
        var rng = SplitMix64(seed: seed)
        var rows = 0
        for _ in 0..<count {
            let from = keys.key(Int(rng.next() % UInt64(keys.count)))
            // A fresh iterator per range read, as Floe opens a fresh scan per range read.
            let it = leveldb_create_iterator(db, readOptions)!
            defer { leveldb_iter_destroy(it) }
            from.withUnsafeBytes { kb in leveldb_iter_seek(it, kb.baseAddress!.assumingMemoryBound(to: CChar.self), kb.count) }
            var left = length
            while left > 0, leveldb_iter_valid(it) != 0 {
                var vl = 0
                _ = leveldb_iter_value(it, &vl)
                rows &+= vl == 0 ? 0 : 1
                left -= 1
                leveldb_iter_next(it)
            }
            var err: UnsafeMutablePointer<CChar>?
            leveldb_iter_get_error(it, &err)
            if let m = Self.take(err) { throw EngineError("leveldb iterator: \(m)") }
        }
        return rows
    }

    func quiesce() async throws {
        // A manual compaction of the whole key range: the memtable first, then every level.
        leveldb_compact_range(db, nil, 0, nil, 0)
    }

    func close() async throws {
        leveldb_close(db)
        leveldb_readoptions_destroy(readOptions)
        leveldb_writeoptions_destroy(writeOptions)
        leveldb_options_destroy(options)
        leveldb_filterpolicy_destroy(filter)
        leveldb_cache_destroy(cache)
    }

    func notes() -> [String: Double] { [:] }
}
