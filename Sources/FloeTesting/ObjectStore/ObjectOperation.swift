import Floe
/// The kinds of `ObjectStore` calls, as fault rules and operation counters name them.
/// A ranged `get(_:range:)` counts as `.get`.
public enum ObjectOperation: String, Sendable, CaseIterable {
    case put, createIfAbsent, get, size, delete, list
}
