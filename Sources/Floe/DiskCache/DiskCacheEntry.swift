/// One cache entry: the bytes `offset ..< offset + length` of object `path` of the
/// remote store named `namespace`, as a self-checking file (docs/format.md §2.7).
///
/// File layout, little-endian:
///
/// | offset | size | field |
/// | --- | --- | --- |
/// | 0 | 8 | magic `FLOEDCE1` |
/// | 8 | 8 | `u64` offset of the range in the object |
/// | 16 | 8 | `u64` length of the range (= payload bytes) |
/// | 24 | 2 | `u16` namespace length `n` |
/// | 26 | 2 | `u16` path length `p` |
/// | 28 | n | namespace, UTF-8 |
/// | 28+n | p | object path, UTF-8 |
/// | 28+n+p | length | payload: the object's bytes of the range |
/// | 28+n+p+length | 8 | `u64` XXH3-64 (seed 0) of every byte before it |
///
/// The file name is `<h>-<offset>-<length>.entry` with `h` the XXH3-64 of
/// `namespace + "\0" + path` as 16 lowercase hex digits and offset and length in
/// lowercase hex without padding; names carry no trust, the header is checked.
struct DiskCacheEntry: Equatable {
    static let magic: [UInt8] = Array("FLOEDCE1".utf8)
    static let fixedHeaderSize = 28
    static let checksumSize = 8
    static let fileSuffix = ".entry"

    var namespace: String
    var path: String
    var offset: Int
    var length: Int

    /// XXH3-64 of `namespace + "\0" + path`: which entries belong to one object.
    static func objectHash(namespace: String, path: String) -> UInt64 {
        Checksum.xxh3(Array(namespace.utf8) + [0] + Array(path.utf8))
    }

    var objectHash: UInt64 { Self.objectHash(namespace: namespace, path: path) }

    /// The entry's file name inside the cache directory.
    var fileName: String {
        Self.hex16(objectHash) + "-" + String(offset, radix: 16) + "-" + String(length, radix: 16) + Self.fileSuffix
    }

    /// Bytes of the whole entry file.
    var fileSize: Int {
        Self.fixedHeaderSize + namespace.utf8.count + path.utf8.count + length + Self.checksumSize
    }

    /// The object hash named by an entry file name, or nil if `name` is not one.
    static func objectHash(ofFileName name: String) -> UInt64? {
        guard name.hasSuffix(fileSuffix), !name.hasPrefix(".") else { return nil }
        let parts = name.dropLast(fileSuffix.count).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 16, let h = UInt64(parts[0], radix: 16),
              Int(parts[1], radix: 16) != nil, Int(parts[2], radix: 16) != nil else { return nil }
        return h
    }

    /// The entry file holding `payload` (whose count must be `length`).
    func encode(payload: [UInt8]) -> [UInt8] {
        precondition(payload.count == length, "payload of \(payload.count) bytes for an entry of \(length)")
        var w = ByteWriter(capacity: fileSize)
        w.raw(Self.magic)
        w.u64(UInt64(offset)); w.u64(UInt64(length))
        w.u16(UInt16(namespace.utf8.count)); w.u16(UInt16(path.utf8.count))
        w.raw(namespace.utf8); w.raw(path.utf8)
        w.raw(payload)
        w.u64(Checksum.xxh3(w.bytes))
        return w.bytes
    }

    /// Whether the key's strings fit their `u16` length fields.
    var isEncodable: Bool { namespace.utf8.count <= Int(UInt16.max) && path.utf8.count <= Int(UInt16.max) }

    /// The payload of `file` if it is exactly this entry's file: right size, magic,
    /// key (namespace, path, offset, length) and checksum. Nil otherwise: the
    /// caller treats that as damage and never uses any of the bytes.
    func payload(ofFile file: [UInt8]) -> [UInt8]? {
        guard file.count == fileSize, Array(file[0..<8]) == Self.magic else { return nil }
        let end = file.count - Self.checksumSize
        guard loadLE64(file, end) == Checksum.xxh3(file, 0..<end) else { return nil }
        guard loadLE64(file, 8) == UInt64(offset), loadLE64(file, 16) == UInt64(length) else { return nil }
        let n = Int(file[24]) | Int(file[25]) << 8, p = Int(file[26]) | Int(file[27]) << 8
        let ns = Array(namespace.utf8), pa = Array(path.utf8)
        guard n == ns.count, p == pa.count,
              Array(file[28 ..< 28 + n]) == ns, Array(file[28 + n ..< 28 + n + p]) == pa else { return nil }
        return Array(file[(28 + n + p) ..< end])
    }

    private static func hex16(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
