import Floe
import FloeTesting

/// The engine of the embedding example (docs/testing.md, "Crash-testing an
/// engine that embeds Floe"), as an embedder writes it: a word counter. Epoch
/// `e` consumes input batch `e`: one more for each word's count (table 1, key
/// the word, value the count as 8 bytes little-endian), and a word whose count
/// reaches `limit` is dropped (a delete). Its commit carries the input position,
/// so a restarted engine resumes after the last committed batch.
struct WordCounter {
    static let counts = TableID(1)
    static let words = ["ash", "birch", "cedar", "elm", "fir", "oak", "pine", "yew"]
    static let limit: UInt64 = 5
    /// Every key the engine can write: what the recovery check reads one by one.
    static let universe = words.map { StateKey(table: counts.raw, key: Array($0.utf8)) }

    let store: StateStore

    static func open(on objects: any ObjectStore) async throws -> WordCounter {
        WordCounter(store: try await StateStore.open(objectStore: objects))
    }

    /// Input batch `n`: 1 to 6 words, a function of `seed` and `n` alone, so a
    /// restarted engine reads the same input again.
    static func batch(_ n: UInt64, seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed ^ (n &* 0x9E37_79B9_7F4A_7C15))
        return (0..<(1 + Int(rng.next() % 6))).map { _ in words[Int(rng.next() % UInt64(words.count))] }
    }

    /// The metadata the commit of `epoch` carries.
    static func metadata(_ epoch: Epoch) -> [String: [UInt8]] {
        ["position": withUnsafeBytes(of: epoch.littleEndian) { Array($0) }]
    }

    /// Stages epoch `epoch`'s writes in the store (uncommitted) and returns its
    /// net writes for the oracle (nil: a delete).
    func process(epoch: Epoch, seed: UInt64) async throws -> [StateKey: [UInt8]?] {
        var writes: [StateKey: [UInt8]?] = [:]
        for word in Self.batch(epoch, seed: seed) {
            let key = Array(word.utf8)
            let stored = try await store.get(Self.counts, key: key, epoch: epoch)
            let count = 1 + (stored.map { $0.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } } ?? 0)
            if count >= Self.limit {
                try store.delete(Self.counts, key: key, epoch: epoch)
                writes.updateValue(nil, forKey: StateKey(table: Self.counts.raw, key: key))
            } else {
                let value = withUnsafeBytes(of: count.littleEndian) { Array($0) }
                try store.put(Self.counts, key: key, value: value, epoch: epoch)
                writes[StateKey(table: Self.counts.raw, key: key)] = value
            }
        }
        return writes
    }

    /// Commits `epoch`: when this returns, the epoch is durable.
    func commit(_ epoch: Epoch) async throws {
        try await store.checkpoint(epoch: epoch, metadata: Self.metadata(epoch))
    }
}
