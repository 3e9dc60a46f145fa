import Floe

/// Deterministic benchmark keys, the same scheme as `floe bench` (Sources/floe/BenchCommand.swift):
/// key i = 8-byte big-endian (i * 2), then filler; a missing key has the odd index i * 2 + 1,
/// so it sorts among the written keys but was never written.
struct BenchKeys: Sendable {
    let count: Int
    let keySize: Int
    let seed: UInt64

    /// Position i of a pseudo-random permutation of 0..<count: a bijective mix on the
    /// smallest power of two >= count, cycle-walking past values >= count.
    func order(_ i: Int) -> Int {
        var x = UInt64(i)
        let n = UInt64(count)
        repeat { x = mix(x) } while x >= n
        return Int(x)
    }

    private func mix(_ v: UInt64) -> UInt64 {
        let bits = UInt64(64 - (UInt64(count) - 1).leadingZeroBitCount)
        let mask: UInt64 = bits >= 64 ? .max : (1 << bits) - 1
        var x = v & mask
        x = (x &* 0x9E37_79B9_7F4A_7C15 &+ seed) & mask
        x ^= x >> (bits / 2 + 1)
        x = (x &* 0xBF58_476D_1CE4_E5B9) & mask
        return x
    }

    func key(_ i: Int) -> [UInt8] {
        var k = [UInt8](repeating: UInt8(ascii: "k"), count: keySize)
        let v = UInt64(i) &* 2
        for b in 0..<8 { k[b] = UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64(b))) }
        return k
    }

    func missingKey(_ i: Int) -> [UInt8] {
        var k = key(i)
        k[7] |= 1
        return k
    }
}

/// Values cut from a 1 MiB buffer whose chunks are half random printable bytes and
/// half one repeated byte (db_bench's compression ratio 0.5), as in `floe bench`.
struct BenchValues: Sendable {
    let size: Int
    let source: [UInt8]

    init(size: Int, seed: UInt64) {
        self.size = size
        var rng = SplitMix64(seed: seed)
        var s = [UInt8]()
        s.reserveCapacity(1 << 20 + size)
        while s.count < (1 << 20) + size {
            let chunk = (0..<max(1, size / 2)).map { _ in UInt8(truncatingIfNeeded: rng.next() % 95 + 32) }
            s.append(contentsOf: chunk)
            s.append(contentsOf: [UInt8](repeating: chunk[0], count: max(1, size - size / 2)))
        }
        source = s
    }

    func value(_ i: Int) -> [UInt8] {
        let off = (i &* 97) % (1 << 20)
        return Array(source[off..<(off + size)])
    }
}

/// One write of a plan: a put of value `value` to key `key`, or a delete when `value < 0`.
struct WriteOp: Sendable {
    var key: Int32
    var value: Int32
    var isDelete: Bool { value < 0 }
}

/// A sequence of writes cut into batches; every engine makes each batch durable
/// before it counts as written (see `EngineKind.durability`).
struct WritePlan: Sendable {
    var ops: [WriteOp]
    var batchKeys: Int

    /// Ingested user bytes: key + value of every put, key of every delete. The
    /// denominator of write amplification, the same for every engine.
    func ingestedBytes(keySize: Int, valueSize: Int) -> UInt64 {
        ops.reduce(0) { $0 + UInt64($1.isDelete ? keySize : keySize + valueSize) }
    }

    /// Every key once, in the permuted order of `floe bench`'s fillrandom.
    static func fill(keys: BenchKeys, batchKeys: Int) -> WritePlan {
        WritePlan(ops: (0..<keys.count).map { WriteOp(key: Int32(keys.order($0)), value: Int32($0)) }, batchKeys: batchKeys)
    }

    /// count/2 overwrites and count/5 deletes of random filled keys, shuffled
    /// (the update phase of `floe bench --workload overwrite`).
    static func overwrite(count: Int, seed: UInt64, batchKeys: Int) -> WritePlan {
        var rng = SplitMix64(seed: seed ^ 0x0DDB_A115)
        var ops: [WriteOp] = []
        ops.reserveCapacity(count / 2 + count / 5)
        for j in 0..<(count / 2) { ops.append(WriteOp(key: Int32(rng.next() % UInt64(count)), value: Int32(count + j))) }
        for _ in 0..<(count / 5) { ops.append(WriteOp(key: Int32(rng.next() % UInt64(count)), value: -1)) }
        for i in stride(from: ops.count - 1, to: 0, by: -1) { ops.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return WritePlan(ops: ops, batchKeys: batchKeys)
    }
}

/// Settings every engine gets in the same form.
struct EngineConfig: Sendable {
    var cacheBytes: Int
    var blockSize = 4096
    var bloomBitsPerKey = 10
    /// Floe only: epochs whose sync + commit may be in flight while the next is written.
    var pipeline = 2
}
