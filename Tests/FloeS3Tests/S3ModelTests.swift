import Floe
import FloeS3
import Testing

/// A `StateStore` on `S3ObjectStore` against a dictionary model: random puts,
/// deletes and batches, checkpoints (seal + sync + commit) with metadata,
/// compactions with GC, and reopens (a new store and a new HTTP client; what was
/// not committed is gone, as after a crash). After every commit and reopen the
/// committed epoch, its metadata, point reads and a full scan must match the model.
///
/// Replay: every failure message starts with `seed S op N`; run
/// `swift test --filter S3ModelTests` with `replaySeeds = [S]`.
@Suite struct S3ModelTests {
    static let replaySeeds: [UInt64]? = nil
    static let seeds: [UInt64] = replaySeeds ?? modelSeeds(50)

    @Test(arguments: seeds)
    func randomRunMatchesModel(seed: UInt64) async throws {
        let endpoint = try await MotoServer.shared.start()
        let configuration = s3Configuration(bucket: uniqueBucket("model"), endpoint: endpoint, prefix: "store")
        try await S3ModelRun(seed: seed, configuration: configuration, createBucket: true).execute()
    }
}

/// One seeded run of the model test over any S3 endpoint (moto, or moto behind the fault proxy).
struct S3ModelRun {
    let seed: UInt64
    let configuration: S3Configuration
    let createBucket: Bool
    var operations = 30
    /// If set, the run ends by reading the bucket through this configuration
    /// (moto directly, past the fault proxy): every acknowledged commit must be there.
    var direct: S3Configuration?

    static let table = TableID(7)

    static var storeOptions: StoreOptions {
        var o = StoreOptions()
        o.compaction.background = false
        o.compaction.l0CompactionTrigger = 2
        o.compaction.gcGraceSeconds = 0
        o.manifestCheckpointInterval = 3
        o.sst.blockSize = 1024
        o.sst.targetFileSize = 8192
        return o
    }

    /// Runs the operations; records an issue naming the seed (and the operation) at
    /// the first mismatch or error.
    func execute() async throws {
        do {
            try await run()
        } catch let failure as RunFailure {
            Issue.record("seed \(seed) op \(failure.op): \(failure.error)")
        }
    }

    private struct RunFailure: Error {
        var op: Int
        var error: any Error
    }

    private func run() async throws {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ 1)
        var objects = try S3ObjectStore(configuration, environment: [:])
        if createBucket { try await objects.createBucket() }
        var store = try await StateStore.open(objectStore: objects, options: Self.storeOptions)
        var committed: [[UInt8]: [UInt8]] = [:]
        var pending: [[UInt8]: [UInt8]?] = [:]
        var committedEpoch: Epoch = 0
        var epoch: Epoch = 1
        func key(_ n: UInt64) -> [UInt8] { Array("k\(n % 40)".utf8) }
        func value(_ rng: inout SplitMix64) -> [UInt8] { (0..<Int(rng.next() % 48)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }

        func check(_ op: Int, _ what: String) async throws -> Bool {
            let context = "seed \(seed) op \(op) [\(what)]"
            guard store.committedEpoch == committedEpoch else {
                Issue.record("\(context): committed epoch \(store.committedEpoch), model \(committedEpoch)")
                return false
            }
            if committedEpoch > 0 {
                let meta = store.committedMetadata["epoch"]
                guard meta == Array("\(committedEpoch)".utf8) else {
                    Issue.record("\(context): metadata \(String(describing: meta)), model epoch \(committedEpoch)")
                    return false
                }
            }
            var scanned: [[UInt8]: [UInt8]] = [:]
            for try await row in try await store.scan(Self.table, from: nil, to: nil, epoch: committedEpoch) {
                scanned[row.key] = row.value
            }
            guard scanned == committed else {
                let missing: [String] = committed.keys.filter { scanned[$0] == nil }.map { String(decoding: $0, as: UTF8.self) }
                let extra: [String] = scanned.keys.filter { committed[$0] == nil }.map { String(decoding: $0, as: UTF8.self) }
                Issue.record("\(context): scan at \(committedEpoch) has \(scanned.count) keys, model \(committed.count); missing \(missing), extra \(extra)")
                return false
            }
            for n in 0..<5 {
                let k = key(rng.next() &+ UInt64(n))
                let got = try await store.get(Self.table, key: k, epoch: committedEpoch)
                guard got == committed[k] else {
                    Issue.record("\(context): get \(String(decoding: k, as: UTF8.self)) = \(String(describing: got)), model \(String(describing: committed[k]))")
                    return false
                }
            }
            return true
        }

        for op in 0..<operations {
            do {
                let roll = rng.next() % 100
                switch roll {
                case 0..<40:
                    let k = key(rng.next()), v = value(&rng)
                    try store.put(Self.table, key: k, value: v, epoch: epoch)
                    pending[k] = .some(v)
                case 40..<52:
                    let k = key(rng.next())
                    try store.delete(Self.table, key: k, epoch: epoch)
                    pending[k] = .some(nil)
                case 52..<60:
                    var batch = WriteBatch()
                    for _ in 0..<(1 + rng.next() % 6) {
                        let k = key(rng.next())
                        if rng.next() % 4 == 0 {
                            batch.delete(Self.table, key: k)
                            pending[k] = .some(nil)
                        } else {
                            let v = value(&rng)
                            batch.put(Self.table, key: k, value: v)
                            pending[k] = .some(v)
                        }
                    }
                    try store.write(batch, epoch: epoch)
                case 60..<82:
                    try await store.checkpoint(epoch: epoch, metadata: ["epoch": Array("\(epoch)".utf8)])
                    for (k, v) in pending { committed[k] = v }
                    pending = [:]
                    committedEpoch = epoch
                    epoch += 1 + rng.next() % 3
                    guard try await check(op, "checkpoint \(committedEpoch)") else { return }
                case 82..<90:
                    _ = try await store.compactUntilQuiescent()
                    _ = try await store.collectGarbage(graceSeconds: 0)
                    guard try await check(op, "compact + gc") else { return }
                default:
                    // Restart: uncommitted writes are gone; a fresh client and store recover from the bucket alone.
                    try await store.close()
                    try await objects.shutdown()
                    objects = try S3ObjectStore(configuration, environment: [:])
                    store = try await StateStore.open(objectStore: objects, options: Self.storeOptions)
                    pending = [:]
                    epoch = max(epoch, committedEpoch + 1)
                    guard try await check(op, "reopen") else { return }
                }
            } catch {
                throw RunFailure(op: op, error: error)
            }
        }
        try await store.close()
        try await objects.shutdown()
        if let direct {
            let reader = try S3ObjectStore(direct, environment: [:])
            let fresh = try await StateStore.openReadOnly(objectStore: reader, options: Self.storeOptions)
            var scanned: [[UInt8]: [UInt8]] = [:]
            for try await row in try await fresh.scan(Self.table, from: nil, to: nil, epoch: committedEpoch) { scanned[row.key] = row.value }
            #expect(fresh.committedEpoch == committedEpoch, "seed \(seed) [direct read]: committed \(fresh.committedEpoch), acknowledged \(committedEpoch)")
            #expect(scanned == committed, "seed \(seed) [direct read]: \(scanned.count) keys, model \(committed.count)")
            try await fresh.close()
            try await reader.shutdown()
        }
    }
}
