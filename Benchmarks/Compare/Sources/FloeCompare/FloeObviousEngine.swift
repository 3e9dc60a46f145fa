import Floe

/// Floe read the way a new user writes the code: `try await store.get(...)` from
/// inside an actor, and `for try await (key, value) in try await store.scan(...)`,
/// rows as arrays. Writes, compaction and the store are exactly `FloeEngine`'s, so
/// the two columns differ only in how the reads are written.
final class FloeObviousEngine: BenchEngine {
    let tuned: FloeEngine

    private init(_ tuned: FloeEngine) { self.tuned = tuned }

    static func open(dir: String, config: EngineConfig) async throws -> FloeObviousEngine {
        FloeObviousEngine(try await FloeEngine.open(dir: dir, config: config))
    }

    /// An app's own actor doing its reads: every call below runs in its isolation.
    actor Client {
        let store: StateStore
        let table: TableID
        init(store: StateStore, table: TableID) {
            self.store = store
            self.table = table
        }

        func gets(keys: BenchKeys, count: Int, seed: UInt64, missing: Bool) async throws -> Int {
            var rng = SplitMix64(seed: seed)
            var found = 0
            for _ in 0..<count {
                let i = Int(rng.next() % UInt64(keys.count))
                let k = missing ? keys.missingKey(i) : keys.key(i)
                if try await store.get(table, key: k, epoch: store.committedEpoch) != nil { found += 1 }
            }
            return found
        }

        func seeks(keys: BenchKeys, count: Int, length: Int, seed: UInt64) async throws -> Int {
            var rng = SplitMix64(seed: seed)
            var rows = 0
            for _ in 0..<count {
                rows += try await scan(from: keys.key(Int(rng.next() % UInt64(keys.count))), limit: length).rows
            }
            return rows
        }

        func scan(from: [UInt8]?, limit: Int) async throws -> (rows: Int, bytes: Int) {
            var rows = 0, bytes = 0
            for try await (k, v) in try await store.scan(table, from: from, to: nil, epoch: store.committedEpoch) {
                rows += 1
                bytes &+= k.count &+ v.count
                if rows == limit { break }
            }
            return (rows, bytes)
        }
    }

    var client: Client { Client(store: tuned.store, table: tuned.table) }

    func apply(_ plan: WritePlan, keys: BenchKeys, values: BenchValues) async throws {
        try await tuned.apply(plan, keys: keys, values: values)
    }

    func get(_ key: [UInt8]) async throws -> [UInt8]? { try await tuned.get(key) }

    func scanAll() async throws -> Int {
        let (rows, bytes) = try await client.scan(from: nil, limit: .max)
        guard bytes > 0 || rows == 0 else { throw EngineError("scan returned empty rows") }
        return rows
    }

    func readRandom(keys: BenchKeys, count: Int, threads: Int, seed: UInt64, missing: Bool) async throws -> Int {
        // One actor per thread of the peers, each doing its share of the gets.
        try await withThrowingTaskGroup(of: Int.self) { group in
            for t in 0..<threads {
                let n = count / threads + (t == 0 ? count % threads : 0)
                let reader = client
                group.addTask { try await reader.gets(keys: keys, count: n, seed: seed &+ UInt64(t) &* 0x9E37_79B9, missing: missing) }
            }
            return try await group.reduce(0, +)
        }
    }

    func seekRandom(keys: BenchKeys, count: Int, length: Int, seed: UInt64) async throws -> Int {
        // The loop runs in the actor, as the gets' does: an app's actor doing its reads.
        try await client.seeks(keys: keys, count: count, length: length, seed: seed)
    }

    func quiesce() async throws { try await tuned.quiesce() }
    func close() async throws { try await tuned.close() }
    func notes() -> [String: Double] { tuned.notes() }
}
