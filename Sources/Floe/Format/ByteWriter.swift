/// Appends little-endian integers, LEB128 varints and length-prefixed bytes to
/// a contiguous buffer. Used by every encoder in Format/.
@usableFromInline
struct ByteWriter {
    @usableFromInline var bytes: [UInt8]

    @inlinable init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inlinable var count: Int { bytes.count }

    @inlinable mutating func u8(_ v: UInt8) { bytes.append(v) }

    @inlinable mutating func u16(_ v: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: v))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
    }

    @inlinable mutating func u32(_ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inlinable mutating func u64(_ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inlinable mutating func u32BE(_ v: UInt32) {
        withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) }
    }

    @inlinable mutating func u64BE(_ v: UInt64) {
        withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) }
    }

    @inlinable mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    @inlinable mutating func varint(_ value: Int) { varint(UInt64(value)) }

    @inlinable mutating func raw<C: Collection>(_ c: C) where C.Element == UInt8 {
        bytes.append(contentsOf: c)
    }

    @inlinable mutating func raw(_ p: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: p)
    }

    /// Varint length, then the bytes.
    @inlinable mutating func lengthPrefixed<C: Collection>(_ c: C) where C.Element == UInt8 {
        varint(c.count)
        bytes.append(contentsOf: c)
    }

    mutating func string(_ s: String) { lengthPrefixed(Array(s.utf8)) }
}
