import CXXHash

/// A bloom filter over the keys of one SST, keyed on table id + user key (never
/// the epoch), probed by point gets. Two layouts, told apart by the top bit of
/// the first byte (docs/format.md §6):
///
/// - **Blocked** (written by this version): the bits form 512-bit (64-byte,
///   one cache line) blocks. The low 32 bits of the key hash pick a block by a
///   multiply-shift; all k probes land inside it, driven by the high 32 bits
///   (each probe takes the top 9 bits, then multiplies by an odd constant). A
///   probe touches one cache line instead of up to k, which is what a get over a
///   deep L0 pays per sub-level. The price is a slightly higher false-positive
///   rate for the same bits (keys spread unevenly over blocks): 0.95% measured at
///   10 bits per key instead of 0.81% (Putze, Sanders and Singler; RocksDB's
///   "fast local bloom" makes the same trade).
/// - **Standard** (earlier files, still read): Kirsch–Mitzenmacher double
///   hashing over the whole bit array: with `h1` the low 32 bits and `h2` the high
///   32 bits forced odd, probe `i` is `h1 + i·h2 (mod 2^32)` mapped onto
///   `[0, bitCount)` by a multiply-shift.
///
/// There are never false negatives. An empty filter has no bit set and answers
/// `false` for everything.
///
/// Encoding: `[layout·0x80 | k: u8][bitCount: u32 LE][bitCount / 8 bytes]`,
/// bit `b` stored in byte `b / 8` at position `b % 8`. The filter has no
/// checksum of its own: the SST block checksum around it covers the bit array.
struct BloomFilter: Sendable, Equatable {
    /// Number of probes per key, in `1...30`.
    let hashCount: Int
    /// Number of bits, a positive multiple of 8 and at least 64 (blocked: of 512).
    let bitCount: Int
    /// Whether probes stay inside one 512-bit block.
    let blocked: Bool
    /// The bit array, `bitCount / 8` bytes.
    let bits: [UInt8]

    static let maxHashCount = 30
    static let minBitCount = 64
    /// Bits per block of the blocked layout: one 64-byte cache line.
    static let blockBits = 512
    /// Top bit of the first byte: the blocked layout.
    static let blockedFlag: UInt8 = 0x80
    /// Size of the header in front of the bit array.
    static let headerSize = 5
    /// Odd multiplier that moves the in-block probe to fresh hash bits (2^32 / golden ratio).
    private static let probeStep: UInt32 = 0x9E37_79B9

    private init(hashCount: Int, bitCount: Int, blocked: Bool, bits: [UInt8]) {
        self.hashCount = hashCount
        self.bitCount = bitCount
        self.blocked = blocked
        self.bits = bits
    }

    /// Number of probes for a bits-per-key budget: `round(bitsPerKey · ln 2)` clamped to `1...30`.
    static func hashCount(bitsPerKey: Int) -> Int {
        max(1, min(maxHashCount, Int((Double(bitsPerKey) * 0.693_147_180_559_945_3).rounded())))
    }

    /// Builds a filter holding `hashes` (from `keyHash`) with `bitsPerKey` bits per key.
    /// Blocked: `hashes.count · bitsPerKey` bits rounded up to whole 512-bit blocks (at
    /// least one). Standard: `max(64, hashes.count · bitsPerKey)` rounded up to a multiple of 8.
    static func build(hashes: [UInt64], bitsPerKey: Int, blocked: Bool = true) -> BloomFilter {
        precondition(bitsPerKey >= 0, "bits per key must not be negative")
        let k = hashCount(bitsPerKey: bitsPerKey)
        let (wanted, overflow) = hashes.count.multipliedReportingOverflow(by: bitsPerKey)
        let unit = blocked ? blockBits : 8
        let cap = Int(UInt32.max) / unit * unit
        var m = overflow ? cap : min(cap, max(blocked ? blockBits : minBitCount, wanted))
        m = min(cap, (m + unit - 1) / unit * unit)
        var bits = [UInt8](repeating: 0, count: m / 8)
        bits.withUnsafeMutableBufferPointer { buf in
            if blocked {
                let blocks = UInt64(m / blockBits)
                for hash in hashes {
                    let base = Int(truncatingIfNeeded: (UInt64(UInt32(truncatingIfNeeded: hash)) &* blocks) >> 32) &* (blockBits / 8)
                    var x = UInt32(truncatingIfNeeded: hash >> 32)
                    for _ in 0..<k {
                        let bit = Int(truncatingIfNeeded: x >> 23)
                        buf[base &+ (bit >> 3)] |= UInt8(1) << UInt8(bit & 7)
                        x &*= probeStep
                    }
                }
            } else {
                let m64 = UInt64(m)
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
        }
        return BloomFilter(hashCount: k, bitCount: m, blocked: blocked, bits: bits)
    }

    /// Whether a key with this hash may be in the set: `false` is definite,
    /// `true` is wrong with the false-positive rate above. Does not allocate.
    @inline(__always)
    func mayContain(_ hash: UInt64) -> Bool {
        let k = hashCount
        if blocked {
            let blocks = UInt64(bitCount / Self.blockBits)
            let base = Int(truncatingIfNeeded: (UInt64(UInt32(truncatingIfNeeded: hash)) &* blocks) >> 32) &* (Self.blockBits / 8)
            var x = UInt32(truncatingIfNeeded: hash >> 32)
            return bits.withUnsafeBufferPointer { buf in
                // Every probe reads the same cache line: test them all, branch once.
                var all: UInt8 = 1
                for _ in 0..<k {
                    let bit = Int(truncatingIfNeeded: x >> 23)
                    all &= buf[base &+ (bit >> 3)] >> UInt8(bit & 7)
                    x &*= Self.probeStep
                }
                return all & 1 != 0
            }
        }
        let m64 = UInt64(bitCount)
        var h = UInt32(truncatingIfNeeded: hash)
        let delta = UInt32(truncatingIfNeeded: hash >> 32) | 1
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

    /// Appends the encoding: `[layout | k: u8][bitCount: u32 LE][bits]`.
    func encode(into w: inout ByteWriter) {
        w.u8(UInt8(hashCount) | (blocked ? Self.blockedFlag : 0))
        w.u32(UInt32(bitCount))
        w.raw(bits)
    }

    /// Decodes a filter that occupies exactly `bytes[range]`. `baseOffset` is the
    /// offset of `bytes[range.lowerBound]` inside `object`, so errors name object offsets.
    /// Throws `FloeError.corruption` if k is outside `1...30`, the bit count is not a
    /// multiple of 8 (or below 64; blocked: of 512), or the bit array does not fill the rest of the range.
    static func decode(_ bytes: [UInt8], range: Range<Int>, object: String, baseOffset: Int) throws -> BloomFilter {
        let (k, m, blocked) = try header(bytes, range: range, object: object, baseOffset: baseOffset)
        let start = range.lowerBound + headerSize
        return BloomFilter(hashCount: k, bitCount: m, blocked: blocked, bits: Array(bytes[start..<(start + m / 8)]))
    }

    /// As above for a buffer that holds exactly the encoding: the bit array stays
    /// in that buffer (the header is shifted out in place), so no second copy of a
    /// filter of hundreds of KiB is made.
    static func decode(whole bytes: consuming [UInt8], object: String, baseOffset: Int) throws -> BloomFilter {
        var bytes = bytes
        let (k, m, blocked) = try header(bytes, range: 0..<bytes.count, object: object, baseOffset: baseOffset)
        bytes.removeFirst(headerSize)
        return BloomFilter(hashCount: k, bitCount: m, blocked: blocked, bits: bytes)
    }

    /// Validates the encoding in `bytes[range]` and returns `(k, bitCount, blocked)`.
    private static func header(_ bytes: [UInt8], range: Range<Int>, object: String, baseOffset: Int) throws -> (Int, Int, Bool) {
        guard range.lowerBound >= 0, range.upperBound <= bytes.count else {
            throw FloeError.corruption(
                object: object, offset: baseOffset,
                reason: "bloom filter range \(range) lies outside the \(bytes.count) bytes read")
        }
        var r = ByteReader(bytes, object: object, base: baseOffset - range.lowerBound, range: range)
        let kOffset = r.position
        let first = try r.u8("bloom filter hash count")
        let blocked = first & blockedFlag != 0
        let k = Int(first & ~blockedFlag)
        guard (1...maxHashCount).contains(k) else {
            throw r.corrupt("bloom filter hash count \(k) outside 1...\(maxHashCount)", at: kOffset)
        }
        let mOffset = r.position
        let m = Int(try r.u32("bloom filter bit count"))
        let unit = blocked ? blockBits : 8
        guard m >= (blocked ? blockBits : minBitCount), m % unit == 0 else {
            throw r.corrupt("bloom filter bit count \(m) is not a multiple of \(unit) of at least \(blocked ? blockBits : minBitCount)", at: mOffset)
        }
        guard m / 8 == r.remaining else {
            throw r.corrupt("bloom filter bit count \(m) needs \(m / 8) bytes, \(r.remaining) present", at: mOffset)
        }
        return (k, m, blocked)
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
