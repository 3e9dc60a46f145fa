#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The order-preserving ("memcomparable") encoding of state keys: for values
/// `a < b` of one type, `encode(a) < encode(b)` byte-wise, and a tuple's encoding
/// is its fields' encodings one after another, so a prefix of fields is a byte
/// prefix and a prefix scan of the store returns rows in key order.
///
/// - A virtual node: 2 bytes, big-endian.
/// - int64, decimal, timestamp: 8 bytes, big-endian, with the sign bit flipped.
/// - bytes: each 0x00 written as 0x00 0xFF, then the terminator 0x00 0x01; the
///   terminator sorts before any continuation, so "a" < "a\0" < "ab".
///
/// docs/format.md §14 states the same.
public enum KeyEncoding {
    /// The bytes of the virtual node that starts every state key: the prefix a
    /// table watermark skips to clean all virtual nodes at once.
    public static let virtualNodeBytes = 2

    @inlinable public static func appendVirtualNode(_ out: inout [UInt8], _ vnode: UInt16) {
        out.append(UInt8(vnode >> 8))
        out.append(UInt8(vnode & 0xFF))
    }

    @inlinable public static func appendInt64(_ out: inout [UInt8], _ v: Int64) {
        let u = UInt64(bitPattern: v) ^ (1 << 63)
        var shift: UInt64 = 56
        while true {
            out.append(UInt8(truncatingIfNeeded: u >> shift))
            if shift == 0 { break }
            shift -= 8
        }
    }

    @inlinable public static func appendBytes(_ out: inout [UInt8], _ v: some Sequence<UInt8>) {
        for b in v {
            out.append(b)
            if b == 0 { out.append(0xFF) }
        }
        out.append(0)
        out.append(1)
    }

    /// The same for a slice (a chunk's string column): one bulk copy when the
    /// bytes hold no zero, which is nearly always.
    @inlinable public static func appendBytes(_ out: inout [UInt8], _ v: ArraySlice<UInt8>) {
        if v.withUnsafeBytes({ $0.isEmpty || memchr($0.baseAddress!, 0, $0.count) == nil }) {
            out.append(contentsOf: v)
        } else {
            for b in v {
                out.append(b)
                if b == 0 { out.append(0xFF) }
            }
        }
        out.append(0)
        out.append(1)
    }

    /// Appends column `column` of row `row`.
    @inlinable public static func appendColumn(_ out: inout [UInt8], _ chunk: Chunk, _ column: Int, _ row: Int) {
        if chunk.types[column].isInteger {
            appendInt64(&out, chunk.int(column, row))
        } else {
            appendBytes(&out, chunk.bytes(column, row))
        }
    }

    /// Replaces `out` with the state key of row `row`: its virtual node (of the
    /// encoding of `columns`), then the memcomparable encoding of `columns`.
    @inlinable public static func stateKey(_ out: inout [UInt8], _ chunk: Chunk, columns: [Int], row: Int) {
        out.removeAll(keepingCapacity: true)
        out.append(0)
        out.append(0)
        for c in columns { appendColumn(&out, chunk, c, row) }
        let v = out.withUnsafeBytes { VirtualNodes.of(UnsafeRawBufferPointer(rebasing: $0[2...])) }
        out[0] = UInt8(v >> 8)
        out[1] = UInt8(v & 0xFF)
    }

    /// Reads an int64 written by `appendInt64` at `at`, advancing it. Nil if cut short.
    public static func readInt64(_ b: some RandomAccessCollection<UInt8>, _ at: inout Int) -> Int64? {
        guard b.count - at >= 8 else { return nil }
        var u: UInt64 = 0
        var i = b.index(b.startIndex, offsetBy: at)
        for _ in 0..<8 {
            u = u << 8 | UInt64(b[i])
            i = b.index(after: i)
        }
        at += 8
        return Int64(bitPattern: u ^ (1 << 63))
    }

    /// Reads bytes written by `appendBytes` at `at`, advancing it. Nil if malformed.
    public static func readBytes(_ b: [UInt8], _ at: inout Int) -> [UInt8]? {
        var out: [UInt8] = []
        var i = at
        while i < b.count {
            if b[i] == 0 {
                guard i + 1 < b.count else { return nil }
                if b[i + 1] == 1 { at = i + 2; return out }
                if b[i + 1] != 0xFF { return nil }
                out.append(0)
                i += 2
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return nil
    }
}
