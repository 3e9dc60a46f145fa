/// One `(table, user key)` of a crash test's key universe, ordered the way the
/// store orders keys: table ascending, then user key bytewise (a prefix first).
public struct StateKey: Hashable, Comparable, Sendable {
    /// The raw value of the key's `TableID`.
    public var table: UInt32
    /// The user key.
    public var key: [UInt8]

    public init(table: UInt32, key: [UInt8]) {
        self.table = table
        self.key = key
    }

    public static func < (a: StateKey, b: StateKey) -> Bool {
        if a.table != b.table { return a.table < b.table }
        return a.key.lexicographicallyPrecedes(b.key)
    }
}

/// The visible contents of a store as the oracle expects them: every live key and its value.
public typealias StoreState = [StateKey: [UInt8]]
