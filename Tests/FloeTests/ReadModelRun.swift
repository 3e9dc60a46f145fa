import Testing
@testable import Floe

/// A seeded run of puts, deletes, commits and compactions against a small
/// in-memory model, for the read paths added beside `get` and `scan`
/// (`getMany`, prefix scans). Two tables; table 1 gets a prefix filter of
/// `prefixLength` bytes when one is given. Keys are 1...4 bytes over a small
/// alphabet with 0x00 and 0xFF in it, so prefixes collide often and the
/// successor of a prefix hits its edge cases.
final class ReadModelRun {
    let seed: UInt64
    let rng: SplitMix64Box
    let store: StateStore
    /// Committed maps by epoch (every commit is retained: `retentionEpochs` is large).
    var committed: [Epoch: [ModelKey: [UInt8]]] = [:]
    /// The open epoch's view: the last committed map with this epoch's writes over it.
    var current: [ModelKey: [UInt8]] = [:]
    var epoch: Epoch = 1
    var op = 0

    static let alphabet: [UInt8] = [0x00, 0x01, 0x02, 0x7F, 0xFF]

    init(seed: UInt64, prefixLength: Int?) async throws {
        self.seed = seed
        rng = SplitMix64Box(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ 7)
        var o = StoreOptions()
        o.sst.blockSize = 256
        o.sst.targetFileSize = 4096
        o.sst.restartInterval = 2
        o.compaction.targetFileSize = 4096
        o.compaction.baseLevelBytes = 8192
        o.compaction.l0CompactionTrigger = 2
        o.retentionEpochs = 1_000
        if let prefixLength { o.prefixFilterLengths = [TableID(1): prefixLength] }
        store = try await StateStore.open(objectStore: MemoryObjectStore(), options: o)
    }

    func int(_ n: Int) -> Int { n <= 1 ? 0 : Int(rng.next() % UInt64(n)) }

    func randomKey(maxLength: Int = 4) -> [UInt8] {
        (0..<(1 + int(maxLength))).map { _ in Self.alphabet[int(Self.alphabet.count)] }
    }

    var where_: String { "seed \(seed) op \(op) epoch \(epoch)" }

    /// One random write, commit or compaction.
    func step() async throws {
        op += 1
        let r = int(100)
        if r < 55 {
            let k = ModelKey(UInt32(1 + int(2)), randomKey())
            let v = (0..<int(40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            try store.put(TableID(k.table), key: k.key, value: v, epoch: epoch)
            current[k] = v
        } else if r < 75 {
            let k = ModelKey(UInt32(1 + int(2)), randomKey())
            try store.delete(TableID(k.table), key: k.key, epoch: epoch)
            current[k] = nil
        } else if r < 93 {
            try await store.checkpoint(epoch: epoch, metadata: [:])
            committed[epoch] = current
            epoch += 1
        } else {
            _ = try await store.compactUntilQuiescent()
        }
    }

    /// A committed epoch to read at (nil before the first commit), or the open one.
    func readEpoch() -> (Epoch, [ModelKey: [UInt8]]) {
        if committed.isEmpty || int(3) == 0 { return (epoch, current) }
        let e = Epoch(1 + int(Int(epoch) - 1))
        return (e, committed[e]!)
    }
}

/// A reference-typed generator, so the run's methods need not be mutating.
final class SplitMix64Box {
    var rng: SplitMix64
    init(seed: UInt64) { rng = SplitMix64(seed: seed) }
    func next() -> UInt64 { rng.next() }
}
