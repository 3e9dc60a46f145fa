import CXXHash

/// A standard (unblocked) bloom filter over the keys of one SST, keyed on
/// table id + user key (never the epoch), probed by point gets.
///
/// Probes use Kirsch–Mitzenmacher double hashing from one 64-bit hash: with
/// `h1` its low 32 bits and `h2` its high 32 bits forced odd, probe `i` is
/// `h1 + i·h2 (mod 2^32)` mapped onto `[0, bitCount)` by a multiply-shift. An odd
/// `h2` has period 2^32, so the k 32-bit probe values are always distinct.
///
/// False positives: with n keys in m bits and k probes the expected rate is
/// (1 - e^{-kn/m})^k. At 10 bits per key, k = round(10·ln 2) = 7 and the rate is
/// about 0.82%; at 16 bits per key (k = 11) about 0.046%. There are never false
/// negatives. An empty filter has no bit set and answers `false` for everything.
///
/// Encoding (docs/format.md): `[k: u8][bitCount: u32 LE][bitCount / 8 bytes]`,
/// bit `b` stored in byte `b / 8` at position `b % 8`. The filter has no
/// checksum of its own: the SST block checksum around it covers the bit array.
struct BloomFilter: Sendable, Equatable {
    /// Number of probes per key, in `1...30`.
    let hashCount: Int
    /// Number of bits, a positive multiple of 8 and at least 64.
    let bitCount: Int
    /// The bit array, `bitCount / 8` bytes.
    let bits: [UInt8]

    static let maxHashCount = 30
    static let minBitCount = 64
    /// Size of the header in front of the bit array.
    static let headerSize = 5

    private init(hashCount: Int, bitCount: Int, bits: [UInt8]) {
        self.hashCount = hashCount
        self.bitCount = bitCount
        self.bits = bits
    }

    /// Number of probes for a bits-per-key budget: `round(bitsPerKey · ln 2)` clamped to `1...30`.
    static func hashCount(bitsPerKey: Int) -> Int {
        max(1, min(maxHashCount, Int((Double(bitsPerKey) * 0.693_147_180_559_945_3).rounded())))
    }

    /// Builds a filter holding `hashes` (from `keyHash`) with `bitsPerKey` bits per key:
    /// `max(64, hashes.count · bitsPerKey)` bits rounded up to a multiple of 8.
    static func build(hashes: [UInt64], bitsPerKey: Int) -> BloomFilter {
        precondition(bitsPerKey >= 0, "bits per key must not be negative")
        let k = hashCount(bitsPerKey: bitsPerKey)
        let (wanted, overflow) = hashes.count.multipliedReportingOverflow(by: bitsPerKey)
        let cap = Int(UInt32.max) & ~7
        var m = overflow ? cap : min(cap, max(minBitCount, wanted))
        m = min(cap, (m + 7) & ~7)
        var bits = [UInt8](repeating: 0, count: m / 8)
        let m64 = UInt64(m)
        bits.withUnsafeMutableBufferPointer { buf in
            for hash in hashes {
                var h = UInt32(truncatingIfNeeded: hash)
                let delta = UInt32(truncatingIfNeeded: hash >> 32) | 1
                for _ in 0..<k {
                    let bit = Int(truncatingIfNeeded: (UInt64(h) &* m64) >> 32)
                    buf[bit >> 3] |= UInt8(1) << UInt8(bit & 7)
                    h &+= delta
                }
            }
        }
        return BloomFilter(hashCount: k, bitCount: m, bits: bits)
    }

    /// Whether a key with this hash may be in the set: `false` is definite,
    /// `true` is wrong with the false-positive rate above. Does not allocate.
    func mayContain(_ hash: UInt64) -> Bool {
        let m64 = UInt64(bitCount)
        var h = UInt32(truncatingIfNeeded: hash)
        let delta = UInt32(truncatingIfNeeded: hash >> 32) | 1
        let k = hashCount
        return bits.withUnsafeBufferPointer { buf in
            for _ in 0..<k {
                let bit = Int(truncatingIfNeeded: (UInt64(h) &* m64) >> 32)
                if buf[bit >> 3] & (UInt8(1) << UInt8(bit & 7)) == 0 { return false }
                h &+= delta
            }
            return true
        }
    }

    /// Size of the encoding in bytes.
    var encodedSize: Int { Self.headerSize + bits.count }

    /// Appends the encoding: `[k: u8][bitCount: u32 LE][bits]`.
    func encode(into w: inout ByteWriter) {
        w.u8(UInt8(hashCount))
        w.u32(UInt32(bitCount))
        w.raw(bits)
    }

    /// Decodes a filter that occupies exactly `bytes[range]`. `baseOffset` is the
    /// offset of `bytes[range.lowerBound]` inside `object`, so errors name object offsets.
    /// Throws `FloeError.corruption` if k is outside `1...30`, the bit count is not a
    /// multiple of 8 (or below 64), or the bit array does not fill the rest of the range.
    static func decode(_ bytes: [UInt8], range: Range<Int>, object: String, baseOffset: Int) throws -> BloomFilter {
        guard range.lowerBound >= 0, range.upperBound <= bytes.count else {
            throw FloeError.corruption(
                object: object, offset: baseOffset,
                reason: "bloom filter range \(range) lies outside the \(bytes.count) bytes read")
        }
        var r = ByteReader(bytes, object: object, base: baseOffset - range.lowerBound, range: range)
        let kOffset = r.position
        let k = Int(try r.u8("bloom filter hash count"))
        guard (1...maxHashCount).contains(k) else {
            throw r.corrupt("bloom filter hash count \(k) outside 1...\(maxHashCount)", at: kOffset)
        }
        let mOffset = r.position
        let m = Int(try r.u32("bloom filter bit count"))
        guard m >= minBitCount, m % 8 == 0 else {
            throw r.corrupt("bloom filter bit count \(m) is not a multiple of 8 of at least \(minBitCount)", at: mOffset)
        }
        guard m / 8 == r.remaining else {
            throw r.corrupt("bloom filter bit count \(m) needs \(m / 8) bytes, \(r.remaining) present", at: mOffset)
        }
        let bits = try r.bytes(m / 8, "bloom filter bits")
        return BloomFilter(hashCount: k, bitCount: m, bits: bits)
    }

    /// The filter hash of a key: XXH3-64 of the user key seeded with the table id.
    @inline(__always)
    static func keyHash(table: TableID, key: UnsafeRawBufferPointer) -> UInt64 {
        floe_xxh3_64_seed(key.baseAddress, key.count, UInt64(table.raw))
    }

    /// The filter hash of a key: XXH3-64 of the user key seeded with the table id.
    @inline(__always)
    static func keyHash(table: TableID, key: [UInt8]) -> UInt64 {
        key.withUnsafeBytes { keyHash(table: table, key: $0) }
    }

    /// The filter hash of a key: XXH3-64 of the user key seeded with the table id.
    @inline(__always)
    static func keyHash(table: TableID, key: ArraySlice<UInt8>) -> UInt64 {
        key.withUnsafeBytes { keyHash(table: table, key: $0) }
    }
}
