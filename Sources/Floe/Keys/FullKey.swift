/// Encoding and order of full keys `(tableID, userKey, epoch)`.
///
/// Encoded form: `[tableID: u32 big-endian][userKey bytes][epoch: u64 big-endian]`.
/// Order: tableID ascending, then userKey bytewise ascending, then epoch
/// **descending**. The last 8 bytes never take part in the bytewise comparison,
/// so a user key that is a prefix of another still sorts first.
@usableFromInline
enum FullKey {
    @usableFromInline static let overhead = 12

    static func encode(table: TableID, userKey: [UInt8], epoch: Epoch) -> [UInt8] {
        var w = ByteWriter(capacity: userKey.count + overhead)
        w.u32BE(table.raw)
        w.raw(userKey)
        w.u64BE(epoch)
        return w.bytes
    }

    static func encode(table: TableID, userKey: UnsafeRawBufferPointer, epoch: Epoch, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        withUnsafeBytes(of: table.raw.bigEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: userKey)
        withUnsafeBytes(of: epoch.bigEndian) { out.append(contentsOf: $0) }
    }

    @inlinable @inline(__always)
    static func table(_ k: UnsafeRawBufferPointer) -> UInt32 {
        UInt32(bigEndian: k.loadUnaligned(as: UInt32.self))
    }

    @inlinable @inline(__always)
    static func epoch(_ k: UnsafeRawBufferPointer) -> Epoch {
        UInt64(bigEndian: k.loadUnaligned(fromByteOffset: k.count - 8, as: UInt64.self))
    }

    /// The user key of an encoded full key.
    @inlinable @inline(__always)
    static func userKey(_ k: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: k[4..<(k.count - 8)])
    }

    /// The `(table, userKey)` prefix: everything but the epoch suffix.
    @inlinable @inline(__always)
    static func prefix(_ k: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: k[0..<(k.count - 8)])
    }

    /// Bytewise comparison; negative, zero or positive.
    @inlinable @inline(__always)
    static func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let n = min(a.count, b.count)
        if n > 0 {
            let c = memcmp(a.baseAddress!, b.baseAddress!, n)
            if c != 0 { return Int(c) }
        }
        return a.count - b.count
    }

    /// Compares two encoded full keys in full-key order.
    @inlinable @inline(__always)
    static func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let c = compareBytes(prefix(a), prefix(b))
        if c != 0 { return c }
        let ea = epoch(a), eb = epoch(b)
        return ea == eb ? 0 : (ea > eb ? -1 : 1)
    }

    static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in compare(pa, pb) } }
    }

    /// Compares an encoded key against a target given as parts, without encoding the target.
    @inlinable @inline(__always)
    static func compare(_ a: UnsafeRawBufferPointer, table: UInt32, userKey: UnsafeRawBufferPointer, epoch e: Epoch) -> Int {
        let ta = self.table(a)
        if ta != table { return ta < table ? -1 : 1 }
        let c = compareBytes(self.userKey(a), userKey)
        if c != 0 { return c }
        let ea = epoch(a)
        return ea == e ? 0 : (ea > e ? -1 : 1)
    }

    /// Compares only `(table, userKey)` of an encoded key against parts.
    @inlinable @inline(__always)
    static func compareUser(_ a: UnsafeRawBufferPointer, table: UInt32, userKey: UnsafeRawBufferPointer) -> Int {
        let ta = self.table(a)
        if ta != table { return ta < table ? -1 : 1 }
        return compareBytes(self.userKey(a), userKey)
    }

    static func describe(_ k: [UInt8]) -> String {
        guard k.count >= overhead else { return "<malformed key \(k.count) bytes>" }
        return k.withUnsafeBytes { p in
            "t\(table(p)):\(printable(Array(userKey(p))))@\(epoch(p))"
        }
    }

    /// Key bytes as text where printable, hex otherwise: for CLI output and errors.
    package static func printable(_ b: [UInt8]) -> String {
        if b.allSatisfy({ $0 >= 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "\\") }) {
            return String(decoding: b, as: UTF8.self)
        }
        return "0x" + b.map { String($0, radix: 16).leftPad(2) }.joined()
    }
}

extension String {
    func leftPad(_ n: Int, _ c: Character = "0") -> String {
        count >= n ? self : String(repeating: c, count: n - count) + self
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
