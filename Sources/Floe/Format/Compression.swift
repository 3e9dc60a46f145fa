import CLZ4
import CZstd

/// Per-block compression codec. The raw value is stored in each block trailer.
public enum Compression: UInt8, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case none = 0
    case lz4 = 1
    case zstd = 2

    public var description: String {
        switch self {
        case .none: "none"
        case .lz4: "lz4"
        case .zstd: "zstd"
        }
    }

    public init?(name: String) {
        switch name.lowercased() {
        case "none": self = .none
        case "lz4": self = .lz4
        case "zstd": self = .zstd
        default: return nil
        }
    }

    /// Compresses `input`. The output starts with the uncompressed length as a
    /// varint (lz4 and zstd only) so decompression allocates exactly once.
    func compress(_ input: [UInt8], zstdLevel: Int32 = 3) -> [UInt8] {
        switch self {
        case .none:
            return input
        case .lz4:
            var w = ByteWriter(capacity: input.count / 2 + 16)
            w.varint(input.count)
            let header = w.count
            let bound = Int(LZ4_compressBound(Int32(input.count)))
            var out = w.bytes + [UInt8](repeating: 0, count: bound)
            let n = input.withUnsafeBytes { src in
                out.withUnsafeMutableBytes { dst in
                    LZ4_compress_default(
                        src.baseAddress?.assumingMemoryBound(to: CChar.self),
                        (dst.baseAddress! + header).assumingMemoryBound(to: CChar.self),
                        Int32(input.count), Int32(bound))
                }
            }
            out.removeLast(bound - Int(n))
            return out
        case .zstd:
            var w = ByteWriter(capacity: input.count / 2 + 16)
            w.varint(input.count)
            let header = w.count
            let bound = ZSTD_compressBound(input.count)
            var out = w.bytes + [UInt8](repeating: 0, count: bound)
            let n = input.withUnsafeBytes { src in
                out.withUnsafeMutableBytes { dst in
                    ZSTD_compress(dst.baseAddress! + header, bound, src.baseAddress, input.count, zstdLevel)
                }
            }
            // Compressing a bounded in-memory buffer cannot fail; keep the raw bytes if it ever does.
            if ZSTD_isError(n) != 0 { return Compression.none.compress(input) }
            out.removeLast(bound - n)
            return out
        }
    }

    /// Decompresses `input[range]`. Errors are `FloeError.corruption` naming `object` and `offset`.
    func decompress(_ input: [UInt8], range: Range<Int>, object: String, offset: Int) throws -> [UInt8] {
        switch self {
        case .none:
            return Array(input[range])
        case .lz4, .zstd:
            var r = ByteReader(input, object: object, base: offset - range.lowerBound, range: range)
            let rawLen = try r.length("uncompressed length", limit: 1 << 30)
            let start = r.position
            let srcCount = range.upperBound - start
            var out = [UInt8](repeating: 0, count: rawLen)
            let ok: Bool = input.withUnsafeBytes { src in
                out.withUnsafeMutableBytes { dst in
                    if self == .lz4 {
                        let n = LZ4_decompress_safe(
                            (src.baseAddress! + start).assumingMemoryBound(to: CChar.self),
                            dst.baseAddress?.assumingMemoryBound(to: CChar.self),
                            Int32(srcCount), Int32(rawLen))
                        return n == Int32(rawLen)
                    } else {
                        let n = ZSTD_decompress(dst.baseAddress, rawLen, src.baseAddress! + start, srcCount)
                        return ZSTD_isError(n) == 0 && n == rawLen
                    }
                }
            }
            guard ok else {
                throw FloeError.corruption(object: object, offset: offset, reason: "\(self) block does not decompress to \(rawLen) bytes")
            }
            return out
        }
    }
}
