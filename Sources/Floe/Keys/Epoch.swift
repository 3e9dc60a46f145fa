/// An epoch: a monotonically increasing version number that tags every write.
public typealias Epoch = UInt64

/// Identifies a logical table inside one store. Keys of different tables never mix:
/// table ID is the most significant part of the full key order.
public struct TableID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let raw: UInt32
    @inlinable public init(_ raw: UInt32) { self.raw = raw }
    @inlinable public static func < (a: TableID, b: TableID) -> Bool { a.raw < b.raw }
    public var description: String { "table \(raw)" }
}
