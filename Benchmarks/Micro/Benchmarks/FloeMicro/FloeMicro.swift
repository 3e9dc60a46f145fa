import Benchmark
@_spi(Benchmarks) import Floe
import Synchronization

// Micro-benchmarks of Floe's hot paths. Each benchmark runs `scalingFactor`
// operations per measured iteration (the inner loop), so the unscaled figures
// are per 1,000 (`.kilo`) or per 1,000,000 (`.mega`) operations and
// `--scale` divides them down to one operation. Inputs are built before
// `startMeasurement()` or in `setup`, never inside the measured region.

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        timeUnits: .nanoseconds,
        warmupIterations: 3,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 1_000_000
    )

    memtableInsert()
    fullKeyCompare()
    blockBuild()
    blockSeek()
    bloomProbe()
    blockCacheHit()
    cachedPointRead()
    actorCalls()
    scanRowPaths()
    indexParse()
}

// MARK: - Inputs

let table: UInt32 = 1
let keySize = 16
let valueSize = 100

/// Deterministic pseudo-random bytes (xorshift64*), so every run sees the same keys.
struct Bytes {
    var state: UInt64

    init(seed: UInt64) { state = seed | 1 }

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }

    mutating func bytes(_ n: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(n)
        while out.count < n {
            let v = next()
            for i in 0..<min(8, n - out.count) { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
        }
        return out
    }
}

/// `count` distinct 16-byte user keys.
func userKeys(_ count: Int, seed: UInt64) -> [[UInt8]] {
    var g = Bytes(seed: seed)
    return (0..<count).map { _ in g.bytes(keySize) }
}

/// `count` 16-byte user keys in increasing order (a block or SST holds sorted keys).
func sortedUserKeys(_ count: Int, seed: UInt64) -> [[UInt8]] {
    userKeys(count, seed: seed).sorted { $0.lexicographicallyPrecedes($1) }
}

/// A data block payload of `keys` (encoded at `epoch`) with 100-byte values.
func blockPayload(_ keys: [[UInt8]], epoch: UInt64) -> [UInt8] {
    var builder = BenchmarkSupport.BlockBuilder()
    let value = [UInt8](repeating: 0x5A, count: valueSize)
    for k in keys {
        let full = BenchmarkSupport.encodeFullKey(table: table, userKey: k, epoch: epoch)
        full.withUnsafeBytes { fk in value.withUnsafeBytes { v in builder.add(key: fk, value: v) } }
    }
    return builder.finish()
}

// MARK: - 1. Memtable insert

/// Inserts of distinct 16 B keys with 100 B values into a `MutableMemtable`. The
/// memtable is replaced (outside the measurement) every 100,000 inserts, so the
/// figure includes its amortized arena, entry and index growth.
func memtableInsert() {
    final class State {
        let keys = userKeys(100_000, seed: 1)
        let value = [UInt8](repeating: 0x5A, count: valueSize)
        var memtable = BenchmarkSupport.Memtable(epoch: 1)
        var next = 0
    }
    Benchmark("Memtable insert (16 B key, 100 B value)") { benchmark, state in
        if state.next + benchmark.scaledIterations.count > state.keys.count {
            state.memtable = BenchmarkSupport.Memtable(epoch: 1)
            state.next = 0
        }
        let start = state.next
        state.next += benchmark.scaledIterations.count
        benchmark.startMeasurement()
        state.value.withUnsafeBytes { v in
            for i in start..<(start + benchmark.scaledIterations.count) {
                state.keys[i].withUnsafeBytes { k in _ = state.memtable.put(table: table, key: k, value: v) }
            }
        }
        benchmark.stopMeasurement()
        blackHole(state.memtable.count)
    } setup: {
        State()
    }
}

// MARK: - 2. Full-key comparison

/// `FullKey.compare` of two encoded full keys (4 B table, 16 B user key, 8 B
/// epoch) that share their first 19 bytes and differ in the last user-key byte.
func fullKeyCompare() {
    Benchmark("FullKey.compare (keys differ at byte 19 of 28)",
              configuration: .init(scalingFactor: .mega)) { (benchmark: Benchmark, keys: [UInt8]) in
        // 64 keys with one 15-byte user-key prefix; neighbours differ in byte 16 only.
        var acc = 0
        keys.withUnsafeBytes { all in
            for i in benchmark.scaledIterations {
                let a = i & 63, b = (i + 1) & 63
                let ka = UnsafeRawBufferPointer(rebasing: all[(a * 28)..<(a * 28 + 28)])
                let kb = UnsafeRawBufferPointer(rebasing: all[(b * 28)..<(b * 28 + 28)])
                acc &+= BenchmarkSupport.compareFullKeys(ka, kb)
            }
        }
        blackHole(acc)
    } setup: {
        let prefix = [UInt8](repeating: 0x42, count: keySize - 1)
        var flat: [UInt8] = []
        for last in 0..<64 {
            flat += BenchmarkSupport.encodeFullKey(table: table, userKey: prefix + [UInt8(last * 3)], epoch: 7)
        }
        return flat
    }
}

// MARK: - 3. Block build

/// Building one data block: 40 sorted entries (28 B encoded keys, 101 B stored
/// values) added to a reused `BlockBuilder`, then `finish()`.
func blockBuild() {
    final class State {
        let keys: [UInt8]
        let value = [UInt8](repeating: 0x5A, count: valueSize)
        var builder = BenchmarkSupport.BlockBuilder()
        init() {
            keys = sortedUserKeys(40, seed: 3).flatMap { BenchmarkSupport.encodeFullKey(table: table, userKey: $0, epoch: 9) }
        }
    }
    Benchmark("Block build (40 entries + finish)") { benchmark, state in
        var bytes = 0
        state.keys.withUnsafeBytes { all in
            state.value.withUnsafeBytes { v in
                for _ in benchmark.scaledIterations {
                    for e in 0..<40 {
                        state.builder.add(key: UnsafeRawBufferPointer(rebasing: all[(e * 28)..<(e * 28 + 28)]), value: v)
                    }
                    bytes &+= state.builder.finish().count
                }
            }
        }
        blackHole(bytes)
    } setup: {
        State()
    }
}

// MARK: - 4. Block seek

/// `Block.pointLookup` of a present key in a decoded data block of about 4 KiB
/// (31 entries, restart interval 16), the probed key cycling over the block.
func blockSeek() {
    struct State {
        let block: BenchmarkSupport.DecodedBlock
        let keys: [[UInt8]]
    }
    Benchmark("Block.pointLookup (4 KiB block, key present)") { (benchmark: Benchmark, state: State) in
        var found = 0
        var j = 0
        for _ in benchmark.scaledIterations {
            state.keys[j].withUnsafeBytes { k in
                found &+= state.block.pointLookup(table: table, userKey: k, epoch: 10)
            }
            j += 1
            if j == state.keys.count { j = 0 }
        }
        precondition(found == benchmark.scaledIterations.count * valueSize, "every probed key is in the block")
    } setup: {
        // As SstWriter does: fill until the block reaches the 4 KiB block size.
        let all = sortedUserKeys(64, seed: 4)
        var keys: [[UInt8]] = []
        var payload: [UInt8] = []
        for k in all {
            keys.append(k)
            payload = blockPayload(keys, epoch: 9)
            if payload.count >= 4096 { break }
        }
        return State(block: try BenchmarkSupport.DecodedBlock(payload: payload), keys: keys)
    }
}

// MARK: - 5. Bloom probe

/// `BloomFilter.mayContain` on the filter of 10,000 keys at 10 bits per key
/// (12.2 KiB), for 8,192 keys in the set and for 8,192 keys not in it.
func bloomProbe() {
    struct State {
        let filter: BenchmarkSupport.Bloom
        let hits: [UInt64]
        let misses: [UInt64]
    }
    let setup: () async throws -> State = {
        func hashes(_ keys: [[UInt8]]) -> [UInt64] {
            keys.map { k in k.withUnsafeBytes { BenchmarkSupport.keyHash(table: table, key: $0) } }
        }
        let present = hashes(userKeys(10_000, seed: 5))
        return State(filter: BenchmarkSupport.Bloom(hashes: present, bitsPerKey: 10),
                     hits: Array(present.prefix(8_192)), misses: hashes(userKeys(8_192, seed: 6)))
    }
    for hit in [true, false] {
        Benchmark("BloomFilter.mayContain (10k keys, \(hit ? "hit" : "miss"))",
                  configuration: .init(scalingFactor: .mega)) { benchmark, state in
            var positives = 0
            let probes = hit ? state.hits : state.misses
            probes.withUnsafeBufferPointer { p in
                for i in benchmark.scaledIterations where state.filter.mayContain(p[i & 8_191]) { positives += 1 }
            }
            if hit { precondition(positives == benchmark.scaledIterations.count, "a bloom filter has no false negatives") }
            blackHole(positives)
        } setup: {
            try await setup()
        }
    }
}

// MARK: - 6. Block-cache hit

/// `ShardedLRUCache.get` of a present key in the 16-shard block cache holding
/// 4,096 decoded blocks, the key cycling over them.
func blockCacheHit() {
    Benchmark("ShardedLRUCache.get (block-cache hit)") { (benchmark: Benchmark, cache: BenchmarkSupport.BlockCache) in
        var hits = 0
        for i in benchmark.scaledIterations where cache.get(sst: 42, block: (i &* 2_654_435_761) & 4095) != nil {
            hits += 1
        }
        precondition(hits == benchmark.scaledIterations.count, "every block is cached")
    } setup: {
        let block = try BenchmarkSupport.DecodedBlock(payload: blockPayload(sortedUserKeys(31, seed: 7), epoch: 9))
        let cache = BenchmarkSupport.BlockCache(capacityBytes: 256 << 20)
        for i in 0..<4096 { cache.insert(sst: 42, block: i, block, charge: block.byteCount + 64) }
        return cache
    }
}

// MARK: - 7. Cached point read

/// `StateStore.get` at the committed epoch of a present key whose SST meta and
/// data block are cached: a store on `MemoryObjectStore` filled with 100,000
/// keys (10 checkpointed epochs of 10,000), compacted to quiescence, and every
/// key read once before the measurement.
func cachedPointRead() {
    struct State {
        let store: StateStore
        let keys: [[UInt8]]
        let epoch: UInt64
    }
    Benchmark("StateStore.get (cached block, key present)") { (benchmark: Benchmark, state: State) async in
        var bytes = 0
        var j = 0
        do {
            for _ in benchmark.scaledIterations {
                if let v = try await state.store.get(TableID(table), key: state.keys[j], epoch: state.epoch) { bytes &+= v.count }
                j += 7_919
                if j >= state.keys.count { j -= state.keys.count }
            }
        } catch {
            benchmark.error("get failed: \(error)")
        }
        precondition(bytes == benchmark.scaledIterations.count * valueSize, "every key is present")
    } setup: {
        let (store, keys, epoch) = try await cachedStore()
        return State(store: store, keys: keys, epoch: epoch)
    } teardown: {
        try await closeStores()
    }
}

/// The stores `cachedStore` opened and no teardown has closed yet.
let openStores = Mutex<[StateStore]>([])

/// The teardown of every benchmark on a `cachedStore`: closes it, so that its
/// memory and tasks do not run into the next benchmark's measurement (the suite
/// runs in one process; a get measured after another benchmark's store was left
/// open ran up to 1.5x slower than alone).
@Sendable func closeStores() async throws {
    for store in openStores.withLock({ s in defer { s.removeAll() }; return s }) { try await store.close() }
}

/// A committed, compacted store of 100,000 keys in memory, every key read once
/// (so every meta and block is cached). Returns the store, its keys and epoch.
func cachedStore() async throws -> (StateStore, [[UInt8]], UInt64) {
    var options = StoreOptions()
    options.compaction.background = false
    let store = try await StateStore.open(objectStore: MemoryObjectStore(), options: options)
    let keys = userKeys(100_000, seed: 8)
    var g = Bytes(seed: 9)
    for epoch in 1...10 {
        for k in keys[((epoch - 1) * 10_000)..<(epoch * 10_000)] {
            try store.put(TableID(table), key: k, value: g.bytes(valueSize), epoch: UInt64(epoch))
        }
        try await store.checkpoint(epoch: UInt64(epoch), metadata: [:])
    }
    _ = try await store.compactUntilQuiescent()
    openStores.withLock { $0.append(store) }
    let epoch = store.committedEpoch
    for k in keys {
        guard try await store.get(TableID(table), key: k, epoch: epoch)?.count == valueSize else {
            fatalError("key missing after fill")
        }
    }
    return (store, keys, epoch)
}

// MARK: - 7b. Calls from an actor

/// What an app's own actor does: gets and scan rows through the async API from
/// inside the actor's isolation. `get` runs on the caller's executor and the scan
/// iterator implements `next(isolation:)`, so neither should pay an executor hop
/// per call or per row; compare with the nonisolated `StateStore.get` row above.
actor StoreClient {
    let store: StateStore
    let keys: [[UInt8]]
    let epoch: UInt64
    private var next = 0

    init(store: StateStore, keys: [[UInt8]], epoch: UInt64) {
        self.store = store
        self.keys = keys
        self.epoch = epoch
    }

    /// `n` gets of cached keys; returns the bytes read. The loop is the nonisolated
    /// benchmark's, on locals: what differs is only the isolation the gets run in
    /// (stepping an actor property per get would add its exclusivity checks).
    func gets(_ n: Int) async throws -> Int {
        var bytes = 0
        var j = next
        let keys = self.keys, store = self.store, epoch = self.epoch
        for _ in 0..<n {
            if let v = try await store.get(TableID(table), key: keys[j], epoch: epoch) { bytes &+= v.count }
            j += 7_919
            if j >= keys.count { j -= keys.count }
        }
        next = j
        return bytes
    }

    /// `n` rows of a warm full scan with `for try await`, in the actor's isolation.
    func scanRows(_ n: Int) async throws -> Int {
        try await forTryAwaitRows(store, epoch: epoch, n)
    }
}

/// `n` rows of a warm full scan with `for try await`, starting over at the end;
/// returns the bytes read. Runs in its caller's isolation: `StoreClient.scanRows`
/// calls it from the actor, the nonisolated benchmark from no actor.
nonisolated(nonsending) func forTryAwaitRows(_ store: StateStore, epoch: UInt64, _ n: Int) async throws -> Int {
    var bytes = 0, rows = 0
    while rows < n {
        for try await (k, v) in try await store.scan(TableID(table), from: nil, to: nil, epoch: epoch) {
            bytes &+= k.count &+ v.count
            rows += 1
            if rows == n { break }
        }
    }
    return bytes
}

/// The borrowed-bytes path the array rows are measured against.
func forEachRowRows(_ store: StateStore, epoch: UInt64, _ n: Int) async throws -> Int {
    var bytes = 0, rows = 0
    while rows < n {
        try await store.scan(TableID(table), from: nil, to: nil, epoch: epoch).forEachRow { k, v in
            bytes &+= k.count &+ v.count
            rows += 1
            return rows < n
        }
    }
    return bytes
}

func actorCalls() {
    Benchmark("StateStore.get from an actor (cached block, key present)") { (benchmark: Benchmark, client: StoreClient) async in
        do {
            let bytes = try await client.gets(benchmark.scaledIterations.count)
            precondition(bytes == benchmark.scaledIterations.count * valueSize, "every key is present")
        } catch {
            benchmark.error("get failed: \(error)")
        }
    } setup: {
        let (store, keys, epoch) = try await cachedStore()
        return StoreClient(store: store, keys: keys, epoch: epoch)
    } teardown: {
        try await closeStores()
    }

    Benchmark("Scan row, for try await from an actor (warm)",
              configuration: .init(scalingFactor: .mega)) { (benchmark: Benchmark, client: StoreClient) async in
        do {
            let bytes = try await client.scanRows(benchmark.scaledIterations.count)
            precondition(bytes == benchmark.scaledIterations.count * (keySize + valueSize), "every row has its key and value")
        } catch {
            benchmark.error("scan failed: \(error)")
        }
    } setup: {
        let (store, keys, epoch) = try await cachedStore()
        return StoreClient(store: store, keys: keys, epoch: epoch)
    } teardown: {
        try await closeStores()
    }
}

/// A warm store and its committed epoch, for the scan-row benchmarks.
struct ScanState {
    let store: StateStore
    let epoch: UInt64
}

func scanRowPaths() {
    Benchmark("Scan row, for try await, nonisolated (warm)",
              configuration: .init(scalingFactor: .mega)) { (benchmark: Benchmark, state: ScanState) async in
        do {
            let bytes = try await forTryAwaitRows(state.store, epoch: state.epoch, benchmark.scaledIterations.count)
            precondition(bytes == benchmark.scaledIterations.count * (keySize + valueSize), "every row has its key and value")
        } catch {
            benchmark.error("scan failed: \(error)")
        }
    } setup: {
        let (store, _, epoch) = try await cachedStore()
        return ScanState(store: store, epoch: epoch)
    } teardown: {
        try await closeStores()
    }

    Benchmark("Scan row, forEachRow (warm)",
              configuration: .init(scalingFactor: .mega)) { (benchmark: Benchmark, state: ScanState) async in
        do {
            let bytes = try await forEachRowRows(state.store, epoch: state.epoch, benchmark.scaledIterations.count)
            precondition(bytes == benchmark.scaledIterations.count * (keySize + valueSize), "every row has its key and value")
        } catch {
            benchmark.error("scan failed: \(error)")
        }
    } setup: {
        let (store, _, epoch) = try await cachedStore()
        return ScanState(store: store, epoch: epoch)
    } teardown: {
        try await closeStores()
    }
}

// MARK: - 8. SST index parse

/// Parsing the index and properties of a 100,000-key SST (2,900 data blocks):
/// what the first get after a restart pays for each file it must open, once its
/// filter passed the key. One operation is one whole index.
func indexParse() {
    Benchmark("SstMeta parse (index of 100k keys, ~2.9k blocks)",
              configuration: .init(scalingFactor: .one, maxDuration: .seconds(2))) { (benchmark: Benchmark, tail: BenchmarkSupport.SstIndexTail) in
        var blocks = 0
        for _ in benchmark.scaledIterations {
            blocks &+= (try? tail.parse()) ?? 0
        }
        blackHole(blocks)
    } setup: {
        try BenchmarkSupport.SstIndexTail(keys: 100_000, seed: 11)
    }
}
