import Synchronization
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
    func compress(_ input: [UInt8], zstdLevel: Int32 = 1) -> [UInt8] {
        var out: [UInt8] = []
        var scratch: [UInt8] = []
        _ = compress(input, appendingTo: &out, scratch: &scratch, zstd: nil, zstdLevel: zstdLevel)
        return out
    }

    /// Appends the compressed form of `input` to `out` and returns its size, or nil
    /// (with `out` unchanged) when the codec fails. `zstd` reuses a compression
    /// context; without one zstd allocates a fresh context per call, which is slow.
    /// The codec writes into `scratch`, a buffer the caller keeps across calls: it
    /// needs room for its worst case, which is zero-filled once per scratch buffer
    /// instead of once per block inside `out`.
    func compress(_ input: [UInt8], appendingTo out: inout [UInt8], scratch: inout [UInt8], zstd: ZstdContext?,
                  zstdLevel: Int32 = 1) -> Int? {
        let start = out.count
        switch self {
        case .none:
            out.append(contentsOf: input)
            return input.count
        case .lz4, .zstd:
            let bound = self == .lz4 ? Int(LZ4_compressBound(Int32(input.count))) : ZSTD_compressBound(input.count)
            if scratch.count < bound { scratch = [UInt8](repeating: 0, count: bound) }
            let written: Int = input.withUnsafeBytes { src in
                scratch.withUnsafeMutableBytes { dst in
                    let d = dst.baseAddress!
                    if self == .lz4 {
                        return Int(LZ4_compress_default(src.baseAddress?.assumingMemoryBound(to: CChar.self),
                                                        d.assumingMemoryBound(to: CChar.self), Int32(input.count), Int32(bound)))
                    }
                    let r = zstd.map { ZSTD_compressCCtx($0.cctx, d, bound, src.baseAddress, input.count, zstdLevel) }
                        ?? ZSTD_compress(d, bound, src.baseAddress, input.count, zstdLevel)
                    return ZSTD_isError(r) != 0 ? -1 : r
                }
            }
            guard written > 0 || input.isEmpty else { return nil }
            var n = input.count
            while n >= 0x80 { out.append(UInt8(truncatingIfNeeded: n) | 0x80); n >>= 7 }
            out.append(UInt8(n))
            scratch.withUnsafeBytes { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[0..<max(0, written)])) }
            return out.count - start
        }
    }

    /// Decompresses `input[range]`. Errors are `FloeError.corruption` naming `object` and `offset`.
    func decompress(_ input: [UInt8], range: Range<Int>, object: String, offset: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        try decompress(input, range: range, into: &out, object: object, offset: offset)
        return out
    }

    /// Decompresses `input[range]` into `out`, replacing its contents. A uniquely
    /// referenced `out` keeps its storage: compaction decodes the blocks of an input
    /// into one buffer instead of a fresh allocation per block, which on a thread
    /// of its own grows a malloc arena page by page (an `mprotect` each, under the
    /// lock every page fault of the process takes).
    func decompress(_ input: [UInt8], range: Range<Int>, into out: inout [UInt8], object: String, offset: Int) throws {
        out.removeAll(keepingCapacity: true)
        switch self {
        case .none:
            out.append(contentsOf: input[range])
        case .lz4, .zstd:
            var r = ByteReader(input, object: object, base: offset - range.lowerBound, range: range)
            let rawLen = try r.length("uncompressed length", limit: 1 << 30)
            let start = r.position
            let srcCount = range.upperBound - start
            out.append(contentsOf: repeatElement(0, count: rawLen))
            let ok: Bool = input.withUnsafeBytes { src in
                out.withUnsafeMutableBytes { dst in
                    if self == .lz4 {
                        let n = LZ4_decompress_safe(
                            (src.baseAddress! + start).assumingMemoryBound(to: CChar.self),
                            dst.baseAddress?.assumingMemoryBound(to: CChar.self),
                            Int32(srcCount), Int32(rawLen))
                        return n == Int32(rawLen)
                    } else {
                        // A pooled context: ZSTD_decompress would build (and zero) a new one per block.
                        let dctx = ZstdDecompressionPool.shared.take()
                        defer { ZstdDecompressionPool.shared.give(dctx) }
                        let n = ZSTD_decompressDCtx(dctx, dst.baseAddress, rawLen, src.baseAddress! + start, srcCount)
                        return ZSTD_isError(n) == 0 && n == rawLen
                    }
                }
            }
            guard ok else {
                throw FloeError.corruption(object: object, offset: offset, reason: "\(self) block does not decompress to \(rawLen) bytes")
            }
        }
    }
}

/// Reusable zstd decompression contexts shared by all readers. A context is used
/// by one thread at a time: `take` removes it from the pool under the mutex.
final class ZstdDecompressionPool: Sendable {
    static let shared = ZstdDecompressionPool()
    /// Contexts as integer addresses (OpaquePointer is not Sendable); at most 16 are kept.
    private let free = Lock<[UInt]>([])

    func take() -> OpaquePointer {
        if let p = free.withLock({ $0.popLast() }), let ctx = OpaquePointer(bitPattern: p) { return ctx }
        return ZSTD_createDCtx()
    }

    func give(_ ctx: OpaquePointer) {
        let kept = free.withLock { f -> Bool in
            guard f.count < 16 else { return false }
            f.append(UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(ctx))))
            return true
        }
        if !kept { ZSTD_freeDCtx(ctx) }
    }
}

/// A reusable zstd compression context. Owned by one SST writer at a time
/// (not shared across threads), freed with it.
final class ZstdContext {
    let cctx: OpaquePointer

    init() {
        cctx = ZSTD_createCCtx()
    }

    deinit { ZSTD_freeCCtx(cctx) }
}
