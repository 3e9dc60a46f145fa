/// The on-disk envelope of every block: `[payload][compression: u8][xxh3-64: u64 LE]`.
/// The checksum covers the payload and the compression byte.
enum BlockCodec {
    static let trailerSize = 9

    /// Compresses `payload` (falling back to none when compression does not save
    /// at least 1/8) and appends the trailer to `out`. Returns the bytes appended.
    @discardableResult
    static func append(_ payload: [UInt8], compression: Compression, to out: inout [UInt8], zstd: ZstdContext? = nil) -> Int {
        var scratch: [UInt8] = []
        return append(payload, compression: compression, to: &out, scratch: &scratch, zstd: zstd)
    }

    /// As above, compressing through `scratch`, which the caller keeps across blocks.
    @discardableResult
    static func append(_ payload: [UInt8], compression: Compression, to out: inout [UInt8], scratch: inout [UInt8],
                       zstd: ZstdContext? = nil) -> Int {
        let start = out.count
        var kind = compression
        if compression != .none {
            let packed = compression.compress(payload, appendingTo: &out, scratch: &scratch, zstd: zstd)
            if packed == nil || packed! >= payload.count - payload.count / 8 {
                out.removeLast(out.count - start)
                kind = .none
                out.append(contentsOf: payload)
            }
        } else {
            out.append(contentsOf: payload)
        }
        out.append(kind.rawValue)
        let sum = Checksum.xxh3(out, start..<out.count)
        withUnsafeBytes(of: sum.littleEndian) { out.append(contentsOf: $0) }
        return out.count - start
    }

    /// As `open(_:range:object:objectOffset:)` for a buffer that holds exactly one
    /// stored block: an uncompressed payload is returned in the same buffer, its
    /// trailer cut off, so a large filter read after a restart is not copied (each
    /// copy of hundreds of KiB faults in fresh pages).
    static func open(whole bytes: consuming [UInt8], object: String, objectOffset: Int) throws -> [UInt8] {
        var bytes = bytes
        guard bytes.count >= trailerSize, Compression(rawValue: bytes[bytes.count - trailerSize]) == Compression.none else {
            return try open(bytes, range: 0..<bytes.count, object: object, objectOffset: objectOffset)
        }
        try verify(bytes, range: 0..<bytes.count, object: object, objectOffset: objectOffset)
        bytes.removeLast(trailerSize)
        return bytes
    }

    /// Throws `FloeError.corruption` unless the checksum of the block at `bytes[range]` matches.
    static func verify(_ bytes: [UInt8], range: Range<Int>, object: String, objectOffset: Int) throws {
        guard range.count >= trailerSize, range.lowerBound >= 0, range.upperBound <= bytes.count else {
            throw FloeError.corruption(object: object, offset: objectOffset, reason: "block of \(range.count) bytes is shorter than its trailer")
        }
        let sumAt = range.upperBound - 8
        let stored = loadLE64(bytes, sumAt)
        let actual = Checksum.xxh3(bytes, range.lowerBound..<sumAt)
        guard stored == actual else {
            throw FloeError.corruption(object: object, offset: objectOffset, reason: "block checksum mismatch (stored \(hex(stored)), computed \(hex(actual)))")
        }
    }

    /// Verifies the checksum of the block stored at `bytes[range]` and returns its
    /// uncompressed payload. `objectOffset` is the offset of `range.lowerBound` in `object`.
    static func open(_ bytes: [UInt8], range: Range<Int>, object: String, objectOffset: Int) throws -> [UInt8] {
        var payload: [UInt8] = []
        try open(bytes, range: range, into: &payload, object: object, objectOffset: objectOffset)
        return payload
    }

    /// As above, the payload written into `payload` (its storage reused when uniquely referenced).
    static func open(_ bytes: [UInt8], range: Range<Int>, into payload: inout [UInt8], object: String, objectOffset: Int) throws {
        try verify(bytes, range: range, object: object, objectOffset: objectOffset)
        let sumAt = range.upperBound - 8
        let kindByte = bytes[sumAt - 1]
        guard let kind = Compression(rawValue: kindByte) else {
            throw FloeError.corruption(object: object, offset: objectOffset + range.count - 9, reason: "unknown compression type \(kindByte)")
        }
        try kind.decompress(bytes, range: range.lowerBound..<(sumAt - 1), into: &payload, object: object, offset: objectOffset)
    }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
