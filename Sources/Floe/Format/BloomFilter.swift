import CXXHash

/// A bloom filter over the keys of one SST, keyed on table id + user key (never
/// the epoch), probed by point gets. Three layouts, told apart by the top two
/// bits of the first byte (docs/format.md §6):
///
/// - **Partitioned** (written by this version, SST format 3): the blocked layout
///   below, cut into partitions of `2^partitionShift` blocks, each followed by an
///   XXH3-64 of its bytes seeded with the header's hash and its own index. A cold
///   get reads and verifies one partition (4 KiB by default) instead of the whole
///   filter: after a restart the first get passes every L0 file, and reading
///   whole filters made it grow with L0's bytes.
/// - **Blocked** (format 2): the bits form 512-bit (64-byte, one cache line)
///   blocks. The low 32 bits of the key hash pick a block by a multiply-shift;
///   all k probes land inside it, driven by the high 32 bits (each probe takes
///   the top 9 bits, then multiplies by an odd constant). A probe touches one
///   cache line instead of up to k, which is what a get over a deep L0 pays per
///   sub-level. The price is a slightly higher false-positive rate for the same
///   bits (keys spread unevenly over blocks): 0.95% measured at 10 bits per key
///   instead of 0.81% (Putze, Sanders and Singler; RocksDB's "fast local bloom"
///   makes the same trade).
/// - **Standard** (format 1 files, still read): Kirsch–Mitzenmacher double
///   hashing over the whole bit array: with `h1` the low 32 bits and `h2` the high
///   32 bits forced odd, probe `i` is `h1 + i·h2 (mod 2^32)` mapped onto
///   `[0, bitCount)` by a multiply-shift.
///
/// There are never false negatives. An empty filter has no bit set and answers
/// `false` for everything.
///
/// Encoding: `[layout | k: u8][bitCount: u32 LE]`, then for the partitioned
/// layout `[partitionShift: u8]`, then the bit array (partitioned: interleaved
/// with the partition checksums), bit `b` of a block stored in byte `b / 8` at
/// position `b % 8`. The SST block checksum around the filter covers it all.
struct BloomFilter: Sendable, Equatable {
    /// How the bits are laid out.
    enum Layout: Equatable, Sendable {
        /// Probes spread over the whole array (format 1).
        case standard
        /// All probes of a key in one 512-bit block (format 2).
        case blocked
        /// Blocked, in checksummed partitions of `2^shift` blocks (format 3).
        case partitioned(shift: Int)
    }

    /// Number of probes per key, in `1...30`.
    let hashCount: Int
    /// Number of bits, a positive multiple of 8 and at least 64 (blocked: of 512).
    let bitCount: Int
    let layout: Layout
    /// The bit array, `bitCount / 8` bytes; partitioned: each partition followed by its 8-byte checksum.
    let bits: [UInt8]
    /// Byte offset of block `b` is `64·b + 8·(b >> gapShift)`: the checksums
    /// between partitions. 63 (no gaps) unless partitioned.
    private let gapShift: Int

    static let maxHashCount = 30
    static let minBitCount = 64
    /// Bits per block of the blocked layouts: one 64-byte cache line.
    static let blockBits = 512
    static let blockBytes = 64
    /// Top bit of the first byte: a blocked layout.
    static let blockedFlag: UInt8 = 0x80
    /// Second bit of the first byte: partitioned (with the blocked flag).
    static let partitionedFlag: UInt8 = 0x40
    /// Size of the header in front of the bit array (partitioned: one more byte, the shift).
    static let headerSize = 5
    static let partitionedHeaderSize = 6
    /// Bytes of the checksum after each partition.
    static let partitionChecksumSize = 8
    /// Blocks per partition written by default: 2^6 = 64 blocks, 4 KiB.
    static let defaultPartitionShift = 6
    /// Largest shift a reader accepts (2^16 blocks, 4 MiB partitions).
    static let maxPartitionShift = 16
    /// Odd multiplier that moves the in-block probe to fresh hash bits (2^32 / golden ratio).
    private static let probeStep: UInt32 = 0x9E37_79B9

    private init(hashCount: Int, bitCount: Int, layout: Layout, bits: [UInt8]) {
        self.hashCount = hashCount
        self.bitCount = bitCount
        self.layout = layout
        self.bits = bits
        if case let .partitioned(shift) = layout { gapShift = shift } else { gapShift = 63 }
    }

    /// Whether probes stay inside one 512-bit block.
    var blocked: Bool { layout != .standard }

    /// Number of probes for a bits-per-key budget: `round(bitsPerKey · ln 2)` clamped to `1...30`.
    static func hashCount(bitsPerKey: Int) -> Int {
        max(1, min(maxHashCount, Int((Double(bitsPerKey) * 0.693_147_180_559_945_3).rounded())))
    }

    /// Number of partitions of a partitioned filter with `blocks` blocks.
    static func partitionCount(blocks: Int, shift: Int) -> Int { (blocks + (1 << shift) - 1) >> shift }

    /// Bytes of the bit array (checksums included) of a filter of `m` bits.
    static func arrayBytes(bitCount m: Int, layout: Layout) -> Int {
        guard case let .partitioned(shift) = layout else { return m / 8 }
        return m / 8 + partitionCount(blocks: m / blockBits, shift: shift) * partitionChecksumSize
    }

    /// The block a hash falls in, of `blocks`: a multiply-shift of its low 32 bits.
    @inline(__always)
    static func block(of hash: UInt64, blocks: Int) -> Int {
        Int(truncatingIfNeeded: (UInt64(UInt32(truncatingIfNeeded: hash)) &* UInt64(blocks)) >> 32)
    }

    /// Builds a filter holding `hashes` (from `keyHash`) with `bitsPerKey` bits per key.
    /// Blocked layouts: `hashes.count · bitsPerKey` bits rounded up to whole 512-bit blocks (at
    /// least one). Standard: `max(64, hashes.count · bitsPerKey)` rounded up to a multiple of 8.
    static func build(hashes: [UInt64], bitsPerKey: Int, layout: Layout = .partitioned(shift: defaultPartitionShift)) -> BloomFilter {
        precondition(bitsPerKey >= 0, "bits per key must not be negative")
        let k = hashCount(bitsPerKey: bitsPerKey)
        let blocked = layout != .standard
        let (wanted, overflow) = hashes.count.multipliedReportingOverflow(by: bitsPerKey)
        let unit = blocked ? blockBits : 8
        let cap = Int(UInt32.max) / unit * unit
        var m = overflow ? cap : min(cap, max(blocked ? blockBits : minBitCount, wanted))
        m = min(cap, (m + unit - 1) / unit * unit)
        var bits = [UInt8](repeating: 0, count: arrayBytes(bitCount: m, layout: layout))
        let gapShift: Int
        if case let .partitioned(shift) = layout { gapShift = shift } else { gapShift = 63 }
        bits.withUnsafeMutableBufferPointer { buf in
            if blocked {
                let blocks = m / blockBits
                for hash in hashes {
                    let blk = block(of: hash, blocks: blocks)
                    let base = blk &* blockBytes &+ (blk >> gapShift) &* partitionChecksumSize
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
        if case let .partitioned(shift) = layout {
            let seed = headerSeed(hashCount: k, bitCount: m, shift: shift)
            bits.withUnsafeMutableBytes { raw in
                for p in 0..<partitionCount(blocks: m / blockBits, shift: shift) {
                    let r = partitionRange(p, blocks: m / blockBits, shift: shift)
                    let sum = floe_xxh3_64_seed(raw.baseAddress! + r.lowerBound, r.count - partitionChecksumSize, seed &+ UInt64(p))
                    raw.storeBytes(of: sum.littleEndian, toByteOffset: r.upperBound - partitionChecksumSize, as: UInt64.self)
                }
            }
        }
        return BloomFilter(hashCount: k, bitCount: m, layout: layout, bits: bits)
    }

    /// Whether a key with this hash may be in the set: `false` is definite,
    /// `true` is wrong with the false-positive rate above. Does not allocate.
    @inline(__always)
    func mayContain(_ hash: UInt64) -> Bool {
        if blocked {
            let blk = Self.block(of: hash, blocks: bitCount / Self.blockBits)
            let base = blk &* Self.blockBytes &+ (blk >> gapShift) &* Self.partitionChecksumSize
            return bits.withUnsafeBufferPointer { Self.probeBlock(UnsafeRawBufferPointer($0), at: base, hash: hash, k: hashCount) }
        }
        let k = hashCount
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

    /// The k probes of `hash` in the 64-byte block at `buf[base...]`.
    @inline(__always)
    static func probeBlock(_ buf: UnsafeRawBufferPointer, at base: Int, hash: UInt64, k: Int) -> Bool {
        var x = UInt32(truncatingIfNeeded: hash >> 32)
        // Every probe reads the same cache line: test them all, branch once.
        var all: UInt8 = 1
        for _ in 0..<k {
            let bit = Int(truncatingIfNeeded: x >> 23)
            all &= buf[base &+ (bit >> 3)] >> UInt8(bit & 7)
            x &*= probeStep
        }
        return all & 1 != 0
    }

    /// Byte range of partition `p` (its blocks and its checksum) within the bit array.
    static func partitionRange(_ p: Int, blocks: Int, shift: Int) -> Range<Int> {
        let per = 1 << shift
        let start = p * (per * blockBytes + partitionChecksumSize)
        let count = min(per, blocks - p * per)
        return start..<(start + count * blockBytes + partitionChecksumSize)
    }

    /// The seed of the partition checksums: XXH3-64 of the partitioned header, so a
    /// partition read alone is checked against the header that located it.
    static func headerSeed(hashCount k: Int, bitCount m: Int, shift: Int) -> UInt64 {
        var w = ByteWriter()
        writeHeader(into: &w, hashCount: k, bitCount: m, layout: .partitioned(shift: shift))
        return Checksum.xxh3(w.bytes)
    }

    /// Size of the encoding in bytes.
    var encodedSize: Int {
        if case .partitioned = layout { return Self.partitionedHeaderSize + bits.count }
        return Self.headerSize + bits.count
    }

    private static func writeHeader(into w: inout ByteWriter, hashCount k: Int, bitCount m: Int, layout: Layout) {
        switch layout {
        case .standard: w.u8(UInt8(k))
        case .blocked: w.u8(UInt8(k) | blockedFlag)
        case .partitioned: w.u8(UInt8(k) | blockedFlag | partitionedFlag)
        }
        w.u32(UInt32(m))
        if case let .partitioned(shift) = layout { w.u8(UInt8(shift)) }
    }

    /// Appends the encoding: the header, then the bit array.
    func encode(into w: inout ByteWriter) {
        Self.writeHeader(into: &w, hashCount: hashCount, bitCount: bitCount, layout: layout)
        w.raw(bits)
    }

    /// Decodes a filter that occupies exactly `bytes[range]`. `baseOffset` is the
    /// offset of `bytes[range.lowerBound]` inside `object`, so errors name object offsets.
    /// Throws `FloeError.corruption` if the header is invalid (see `Header.parse`), the
    /// bit array does not fill the rest of the range, or a partition checksum does not match.
    static func decode(_ bytes: [UInt8], range: Range<Int>, object: String, baseOffset: Int) throws -> BloomFilter {
        let h = try Header.parse(bytes, range: range, object: object, baseOffset: baseOffset)
        try h.checkLength(range.count, object: object, baseOffset: baseOffset)
        let start = range.lowerBound + h.size
        let f = BloomFilter(hashCount: h.hashCount, bitCount: h.bitCount, layout: h.layout, bits: Array(bytes[start..<range.upperBound]))
        try f.verifyPartitions(object: object, arrayOffset: baseOffset + h.size)
        return f
    }

    /// As above for a buffer that holds exactly the encoding: the bit array stays
    /// in that buffer (the header is shifted out in place), so no second copy of a
    /// filter of hundreds of KiB is made.
    static func decode(whole bytes: consuming [UInt8], object: String, baseOffset: Int) throws -> BloomFilter {
        var bytes = bytes
        let h = try Header.parse(bytes, range: 0..<bytes.count, object: object, baseOffset: baseOffset)
        try h.checkLength(bytes.count, object: object, baseOffset: baseOffset)
        bytes.removeFirst(h.size)
        let f = BloomFilter(hashCount: h.hashCount, bitCount: h.bitCount, layout: h.layout, bits: bytes)
        try f.verifyPartitions(object: object, arrayOffset: baseOffset + h.size)
        return f
    }

    /// Checks every partition checksum (partitioned layout; nothing otherwise), so a
    /// filter loaded whole never disagrees with one read a partition at a time.
    private func verifyPartitions(object: String, arrayOffset: Int) throws {
        guard case let .partitioned(shift) = layout else { return }
        let blocks = bitCount / Self.blockBits
        let seed = Self.headerSeed(hashCount: hashCount, bitCount: bitCount, shift: shift)
        try bits.withUnsafeBytes { raw in
            for p in 0..<Self.partitionCount(blocks: blocks, shift: shift) {
                let r = Self.partitionRange(p, blocks: blocks, shift: shift)
                try Self.checkPartition(UnsafeRawBufferPointer(rebasing: raw[r]), index: p, seed: seed,
                                        object: object, offset: arrayOffset + r.lowerBound)
            }
        }
    }

    /// Throws `FloeError.corruption` unless the last 8 bytes of `partition` are the
    /// checksum of the rest under `seed + index`.
    static func checkPartition(_ partition: UnsafeRawBufferPointer, index: Int, seed: UInt64, object: String, offset: Int) throws {
        let n = partition.count - partitionChecksumSize
        let want = UInt64(littleEndian: partition.loadUnaligned(fromByteOffset: n, as: UInt64.self))
        let got = floe_xxh3_64_seed(partition.baseAddress, n, seed &+ UInt64(index))
        guard got == want else {
            throw FloeError.corruption(object: object, offset: offset + n,
                                       reason: "bloom filter partition \(index) checksum mismatch: stored \(hex(want)), computed \(hex(got))")
        }
    }

    /// A filter header: what locates a key's block and partition.
    struct Header: Equatable {
        let hashCount: Int
        let bitCount: Int
        let layout: Layout
        /// Bytes of the header: 5, or 6 for the partitioned layout.
        let size: Int

        var blocks: Int { bitCount / BloomFilter.blockBits }

        /// Parses the header at the start of `bytes[range]` (it may hold more than the header).
        /// Throws `FloeError.corruption` if k is outside `1...30`, the flags name no layout,
        /// the bit count is not a multiple of 8 (or below 64; blocked: of 512), or the
        /// partition shift exceeds 16.
        static func parse(_ bytes: [UInt8], range: Range<Int>, object: String, baseOffset: Int) throws -> Header {
            guard range.lowerBound >= 0, range.upperBound <= bytes.count else {
                throw FloeError.corruption(
                    object: object, offset: baseOffset,
                    reason: "bloom filter range \(range) lies outside the \(bytes.count) bytes read")
            }
            var r = ByteReader(bytes, object: object, base: baseOffset - range.lowerBound, range: range)
            let kOffset = r.position
            let first = try r.u8("bloom filter hash count")
            let blocked = first & blockedFlag != 0
            let partitioned = first & partitionedFlag != 0
            let k = Int(first & ~(blockedFlag | partitionedFlag))
            guard (1...maxHashCount).contains(k) else {
                throw r.corrupt("bloom filter hash count \(k) outside 1...\(maxHashCount)", at: kOffset)
            }
            guard blocked || !partitioned else {
                throw r.corrupt("bloom filter flags 0x\(String(first >> 6, radix: 16)): partitioned without blocked", at: kOffset)
            }
            let mOffset = r.position
            let m = Int(try r.u32("bloom filter bit count"))
            let unit = blocked ? blockBits : 8
            guard m >= (blocked ? blockBits : minBitCount), m % unit == 0 else {
                throw r.corrupt("bloom filter bit count \(m) is not a multiple of \(unit) of at least \(blocked ? blockBits : minBitCount)", at: mOffset)
            }
            var layout: Layout = blocked ? .blocked : .standard
            if partitioned {
                let sOffset = r.position
                let shift = Int(try r.u8("bloom filter partition shift"))
                guard shift <= maxPartitionShift else {
                    throw r.corrupt("bloom filter partition shift \(shift) above \(maxPartitionShift)", at: sOffset)
                }
                layout = .partitioned(shift: shift)
            }
            return Header(hashCount: k, bitCount: m, layout: layout, size: partitioned ? partitionedHeaderSize : headerSize)
        }

        /// Throws `FloeError.corruption` unless a filter of this header is exactly `encodedCount` bytes.
        func checkLength(_ encodedCount: Int, object: String, baseOffset: Int) throws {
            let need = BloomFilter.arrayBytes(bitCount: bitCount, layout: layout)
            guard encodedCount - size == need else {
                throw FloeError.corruption(object: object, offset: baseOffset + 1,
                                           reason: "bloom filter bit count \(bitCount) needs \(need) bytes, \(encodedCount - size) present")
            }
        }
    }
}
