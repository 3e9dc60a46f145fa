import CRocksDB
import Floe

/// RocksDB through its C API (rocksdb/c.h).
/// @unchecked: the handles are only read after init, and RocksDB's DB, read and
/// write options are safe to share across threads for get, write and iterators.
final class RocksDBEngine: BenchEngine, @unchecked Sendable {
    let db: OpaquePointer
    let options: OpaquePointer
    let cache: OpaquePointer
    let readOptions: OpaquePointer
    let writeOptions: OpaquePointer
    let dir: String

    init(dir: String, config: EngineConfig) throws {
        self.dir = dir
        options = rocksdb_options_create()
        rocksdb_options_set_create_if_missing(options, 1)
        rocksdb_options_set_compression(options, Int32(rocksdb_lz4_compression))
        cache = rocksdb_cache_create_lru(config.cacheBytes)
        let table = rocksdb_block_based_options_create()!
        rocksdb_block_based_options_set_block_size(table, config.blockSize)
        rocksdb_block_based_options_set_block_cache(table, cache)
        // The table options take ownership of the filter policy.
        rocksdb_block_based_options_set_filter_policy(table, rocksdb_filterpolicy_create_bloom_full(Double(config.bloomBitsPerKey)))
        rocksdb_options_set_block_based_table_factory(options, table)
        rocksdb_block_based_options_destroy(table)
        readOptions = rocksdb_readoptions_create()
        writeOptions = rocksdb_writeoptions_create()
        rocksdb_writeoptions_set_sync(writeOptions, 1)
        var err: UnsafeMutablePointer<CChar>?
        let handle = rocksdb_open(options, dir, &err)
        if let message = RocksDBEngine.take(err) {
            rocksdb_readoptions_destroy(readOptions)
            rocksdb_writeoptions_destroy(writeOptions)
            rocksdb_cache_destroy(cache)
            rocksdb_options_destroy(options)
            throw EngineError("rocksdb_open \(dir): \(message)")
        }
        db = handle!
    }

    /// The message of a C API error, freed.
    static func take(_ err: UnsafeMutablePointer<CChar>?) -> String? {
        guard let err else { return nil }
        defer { rocksdb_free(err) }
        return String(cString: err)
    }

    func apply(_ plan: WritePlan, keys: BenchKeys, values: BenchValues) async throws {
        let batch = rocksdb_writebatch_create()
        defer { rocksdb_writebatch_destroy(batch) }
        var i = 0
        while i < plan.ops.count {
            let end = min(plan.ops.count, i + plan.batchKeys)
            while i < end {
                let op = plan.ops[i]
                let k = keys.key(Int(op.key))
                k.withUnsafeBytes { kb in
                    let kp = kb.baseAddress!.assumingMemoryBound(to: CChar.self)
                    if op.isDelete {
                        rocksdb_writebatch_delete(batch, kp, kb.count)
                    } else {
                        values.value(Int(op.value)).withUnsafeBytes { vb in
                            rocksdb_writebatch_put(batch, kp, kb.count, vb.baseAddress!.assumingMemoryBound(to: CChar.self), vb.count)
                        }
                    }
                }
                i += 1
            }
            var err: UnsafeMutablePointer<CChar>?
            rocksdb_write(db, writeOptions, batch, &err)
            if let m = Self.take(err) { throw EngineError("rocksdb_write: \(m)") }
            rocksdb_writebatch_clear(batch)
        }
    }

    func get(_ key: [UInt8]) async throws -> [UInt8]? {
        var err: UnsafeMutablePointer<CChar>?
        var len = 0
        let v = key.withUnsafeBytes { kb in
            rocksdb_get(db, readOptions, kb.baseAddress!.assumingMemoryBound(to: CChar.self), kb.count, &len, &err)
        }
        if let m = Self.take(err) { throw EngineError("rocksdb_get: \(m)") }
        guard let v else { return nil }
        defer { rocksdb_free(v) }
        return Array(UnsafeRawBufferPointer(start: v, count: len))
    }

    /// One get through the C API, which mallocs a copy of the value (as Floe returns
    /// a fresh array); true if found.
    private func probe(_ key: [UInt8], _ failure: SharedError) -> Bool {
        var err: UnsafeMutablePointer<CChar>?
        var len = 0
        let v = key.withUnsafeBytes { kb in
            rocksdb_get(db, readOptions, kb.baseAddress!.assumingMemoryBound(to: CChar.self), kb.count, &len, &err)
        }
        if let m = Self.take(err) { failure.record("rocksdb_get: \(m)") }
        guard let v else { return false }
        rocksdb_free(v)
        return true
    }

    func scanAll() async throws -> Int {
        let it = rocksdb_create_iterator(db, readOptions)!
        defer { rocksdb_iter_destroy(it) }
        rocksdb_iter_seek_to_first(it)
        var n = 0, bytes = 0
        while rocksdb_iter_valid(it) != 0 {
            var kl = 0, vl = 0
            _ = rocksdb_iter_key(it, &kl)
            _ = rocksdb_iter_value(it, &vl)
            n += 1
            bytes &+= kl &+ vl
            rocksdb_iter_next(it)
        }
        var err: UnsafeMutablePointer<CChar>?
        rocksdb_iter_get_error(it, &err)
        if let m = Self.take(err) { throw EngineError("rocksdb iterator: \(m)") }
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
            let it = rocksdb_create_iterator(db, readOptions)!
            defer { rocksdb_iter_destroy(it) }
            from.withUnsafeBytes { kb in rocksdb_iter_seek(it, kb.baseAddress!.assumingMemoryBound(to: CChar.self), kb.count) }
            var left = length
            while left > 0, rocksdb_iter_valid(it) != 0 {
                var vl = 0
                _ = rocksdb_iter_value(it, &vl)
                rows &+= vl == 0 ? 0 : 1
                left -= 1
                rocksdb_iter_next(it)
            }
            var err: UnsafeMutablePointer<CChar>?
            rocksdb_iter_get_error(it, &err)
            if let m = Self.take(err) { throw EngineError("rocksdb iterator: \(m)") }
        }
        return rows
    }

    func quiesce() async throws {
        // A manual compaction of the whole key range: flushes the memtable, then
        // compacts every level down to the last one; returns when done.
        rocksdb_compact_range(db, nil, 0, nil, 0)
    }

    func close() async throws {
        rocksdb_close(db)
        rocksdb_readoptions_destroy(readOptions)
        rocksdb_writeoptions_destroy(writeOptions)
        rocksdb_cache_destroy(cache)
        rocksdb_options_destroy(options)
    }

    func notes() -> [String: Double] {
        var out: [String: Double] = [:]
        for (name, key) in [("rocksdb.estimate-live-data-size", "rocksdb_live_data_bytes"),
                            ("rocksdb.total-sst-files-size", "rocksdb_sst_bytes")] {
            if let p = rocksdb_property_value(db, name) {
                out[key] = Double(String(cString: p))
                rocksdb_free(p)
            }
        }
        return out
    }

    /// The library's own version, as RocksDB records it in the OPTIONS file it writes.
    static func version(inStoreDir dir: String) -> String? {
        for name in listDirectory(dir) where name.hasPrefix("OPTIONS-") {
            guard let text = readSmallFile(dir + "/" + name) else { continue }
            for line in text.split(separator: "\n") {
                let l = line.trimmingPrefixSpaces()
                if l.hasPrefix("rocksdb_version=") { return String(l.dropFirst("rocksdb_version=".count)) }
            }
        }
        return nil
    }
}

extension Substring {
    func trimmingPrefixSpaces() -> Substring { drop { $0 == " " || $0 == "\t" } }
}
