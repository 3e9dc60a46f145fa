import CXXHash
import Floe

/// An order-independent digest of a view's rows: the wrapping sum, over its rows,
/// of a 64-bit hash of the row's stored key and value bytes, and the row count.
///
/// Invariant: the digest of a view is a pure function of its contents (its set of
/// (key, value) rows), whatever the order in which the rows arrived, the epochs
/// they arrived in and the parallelism that wrote them: inserting a row adds its
/// hash, deleting it subtracts the same hash, and addition commutes. So digests
/// can be maintained incrementally (`Materialize` adds each epoch's change) and
/// recomputed from the store (`ViewDigest.scan`), and both agree.
public struct ViewDigest: Sendable, Hashable, CustomStringConvertible {
    /// Wrapping sum of the row hashes.
    public var sum: UInt64
    /// Rows in the view (wrapping; an epoch's change may be negative).
    public var rows: Int64

    public init(sum: UInt64 = 0, rows: Int64 = 0) {
        self.sum = sum
        self.rows = rows
    }

    /// The hash of one row: XXH3-64 of the value, seeded with XXH3-64 of the key.
    /// Hashes the bytes in place: no allocation.
    @inline(__always)
    public static func rowHash(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> UInt64 {
        let k = floe_xxh3_64(key.baseAddress, key.count)
        return floe_xxh3_64_seed(value.baseAddress, value.count, k)
    }

    @inline(__always)
    public static func rowHash(key: [UInt8], value: [UInt8]) -> UInt64 {
        key.withUnsafeBytes { k in value.withUnsafeBytes { v in rowHash(key: k, value: v) } }
    }

    @inline(__always) public mutating func insert(_ hash: UInt64) {
        sum &+= hash
        rows &+= 1
    }

    @inline(__always) public mutating func remove(_ hash: UInt64) {
        sum &-= hash
        rows &-= 1
    }

    /// Adds another digest's change (an epoch's delta, or another instance's part).
    public mutating func add(_ other: ViewDigest) {
        sum &+= other.sum
        rows &+= other.rows
    }

    public var isZero: Bool { sum == 0 && rows == 0 }

    public var description: String {
        let hex = String(sum, radix: 16)
        return "\(rows) rows, digest \(String(repeating: "0", count: 16 - hex.count))\(hex)"
    }

    /// Computes the digest of `view` from its rows in `store` at `epoch` (default:
    /// the committed epoch). Throws the store's errors (an epoch no longer retained).
    public static func scan(store: StateStore, view: ViewDefinition, epoch: Epoch? = nil) async throws -> ViewDigest {
        var d = ViewDigest()
        let rows = try await store.scan(view.table, from: nil, to: nil, epoch: epoch ?? store.committedEpoch)
        try await rows.forEachRow { k, v in
            d.insert(rowHash(key: k, value: v))
            return true
        }
        return d
    }
}
