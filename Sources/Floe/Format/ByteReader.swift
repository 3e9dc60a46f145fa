/// Bounds-checked decoder over a byte array. Every failure is a
/// `FloeError.corruption` naming the object and the absolute byte offset, so a
/// corrupt or truncated object never traps and never decodes garbage silently.
struct ByteReader {
    let bytes: [UInt8]
    /// Name of the object the bytes came from, for error messages.
    let object: String
    /// Offset of `bytes[0]` inside the object, so errors report object offsets.
    let base: Int
    private(set) var position: Int
    let end: Int

    init(_ bytes: [UInt8], object: String, base: Int = 0, range: Range<Int>? = nil) {
        self.bytes = bytes
        self.object = object
        self.base = base
        self.position = range?.lowerBound ?? 0
        self.end = range?.upperBound ?? bytes.count
    }

    var remaining: Int { end - position }
    var isAtEnd: Bool { position >= end }

    func corrupt(_ reason: String, at offset: Int? = nil) -> FloeError {
        .corruption(object: object, offset: base + (offset ?? position), reason: reason)
    }

    private mutating func need(_ n: Int, _ what: String) throws {
        if n < 0 || n > end - position {
            throw corrupt("truncated \(what): need \(n) bytes, \(end - position) left")
        }
    }

    mutating func u8(_ what: String = "byte") throws -> UInt8 {
        try need(1, what)
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u16(_ what: String = "u16") throws -> UInt16 {
        try need(2, what)
        defer { position += 2 }
        return UInt16(bytes[position]) | UInt16(bytes[position + 1]) << 8
    }

    mutating func u32(_ what: String = "u32") throws -> UInt32 {
        try need(4, what)
        defer { position += 4 }
        return loadLE32(bytes, position)
    }

    mutating func u64(_ what: String = "u64") throws -> UInt64 {
        try need(8, what)
        defer { position += 8 }
        return loadLE64(bytes, position)
    }

    mutating func varint(_ what: String = "varint") throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = position
        while true {
            guard position < end else { throw corrupt("truncated \(what)", at: start) }
            let b = bytes[position]
            position += 1
            if shift == 63 && b > 1 { throw corrupt("\(what) overflows 64 bits", at: start) }
            result |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw corrupt("\(what) too long", at: start) }
        }
    }

    /// A varint that must fit a non-negative Int no larger than `limit`.
    mutating func length(_ what: String, limit: Int = Int(Int32.max)) throws -> Int {
        let start = position
        let v = try varint(what)
        guard v <= UInt64(limit) else { throw corrupt("\(what) \(v) exceeds limit \(limit)", at: start) }
        return Int(v)
    }

    mutating func bytes(_ n: Int, _ what: String = "bytes") throws -> [UInt8] {
        try need(n, what)
        defer { position += n }
        return Array(bytes[position..<position + n])
    }

    mutating func lengthPrefixed(_ what: String = "bytes") throws -> [UInt8] {
        let n = try length("\(what) length")
        return try bytes(n, what)
    }

    mutating func string(_ what: String = "string") throws -> String {
        let start = position
        let b = try lengthPrefixed(what)
        guard let s = String(validating: b, as: UTF8.self) else { throw corrupt("\(what) is not UTF-8", at: start) }
        return s
    }

    mutating func skip(_ n: Int, _ what: String = "bytes") throws {
        try need(n, what)
        position += n
    }
}

@inline(__always) func loadLE32(_ b: [UInt8], _ i: Int) -> UInt32 {
    b.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: i, as: UInt32.self)) }
}

@inline(__always) func loadLE64(_ b: [UInt8], _ i: Int) -> UInt64 {
    b.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: i, as: UInt64.self)) }
}
