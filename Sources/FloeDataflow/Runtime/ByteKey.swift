import CXXHash

/// A byte string as a dictionary key, hashed with one xxh3 call instead of one
/// hasher round per byte (what `[UInt8]`'s own `Hashable` does).
public struct ByteKey: Hashable, Sendable {
    public var bytes: [UInt8]
    @inlinable public init(_ bytes: [UInt8]) { self.bytes = bytes }

    @inlinable public func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.withUnsafeBytes { floe_xxh3_64($0.baseAddress, $0.count) })
    }

    @inlinable public static func == (a: ByteKey, b: ByteKey) -> Bool { a.bytes == b.bytes }
}

extension ByteKey {
    /// The tag an operator's cache files `key` under in its `SlotIndex` (the low
    /// 32 bits of the key's xxh3 hash, whose bits are all mixed).
    static func tag(_ key: [UInt8]) -> UInt32 {
        UInt32(truncatingIfNeeded: key.withUnsafeBytes { floe_xxh3_64($0.baseAddress, $0.count) })
    }
}
