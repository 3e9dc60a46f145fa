import Floe

/// Deterministic benchmark keys: index -> fixed-size key; a permutation for random fill order.
struct BenchKeys {
    let count: Int
    let keySize: Int
    let seed: UInt64

    init(count: Int, keySize: Int, seed: UInt64) {
        self.count = count
        self.keySize = keySize
        self.seed = seed
    }

    /// Position i of a pseudo-random permutation of 0..<count (an LCG walk over a power of two, skipping overflow).
    func order(_ i: Int) -> Int {
        // Multiplicative permutation modulo a prime >= count would be cleaner; a bijective mix plus
        // cycle-walking keeps it exact for any count.
        var x = UInt64(i)
        let n = UInt64(count)
        repeat { x = mix(x) } while x >= n
        return Int(x)
    }

    private func mix(_ v: UInt64) -> UInt64 {
        // Bijection on [0, 2^bits): xor-shift and odd multiply, masked to the smallest power of two >= count.
        let bits = UInt64(64 - (UInt64(count) - 1).leadingZeroBitCount)
        let mask: UInt64 = bits >= 64 ? .max : (1 << bits) - 1
        var x = v & mask
        x = (x &* 0x9E37_79B9_7F4A_7C15 &+ seed) & mask
        x ^= x >> (bits / 2 + 1)
        x = (x &* 0xBF58_476D_1CE4_E5B9) & mask
        return x
    }

    /// Key i: big-endian index in 8 bytes, then filler to keySize.
    func key(_ i: Int) -> [UInt8] {
        var k = [UInt8](repeating: UInt8(ascii: "k"), count: keySize)
        let v = UInt64(i) &* 2
        for b in 0..<8 { k[b] = UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64(b))) }
        return k
    }

    /// A key that sorts among the existing ones but was never written (odd index).
    func missingKey(_ i: Int) -> [UInt8] {
        var k = key(i)
        k[7] |= 1
        return k
    }
}

/// Values of a fixed size cut from a buffer that is half random, half repeated, like db_bench's 0.5 ratio.
struct BenchValues {
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
