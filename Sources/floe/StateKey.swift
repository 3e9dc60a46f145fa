/// One `(table, user key)` of the crash-test key universe, ordered the way the
/// store orders keys: table ascending, then user key bytewise (a prefix first).
struct StateKey: Hashable, Comparable, Sendable {
    var table: UInt32
    var key: [UInt8]

    static func < (a: StateKey, b: StateKey) -> Bool {
        if a.table != b.table { return a.table < b.table }
        return a.key.lexicographicallyPrecedes(b.key)
    }
}

/// The visible contents of the store as the oracle expects them: every live key and its value.
typealias StoreState = [StateKey: [UInt8]]
