import Floe
/// One fault a `FaultInjectingObjectStore` injects into matching operations.
///
/// A call matches when its operation is in `operations` and its path (the
/// prefix, for `list`) contains `pathContains` (`""` matches every path).
/// Of the matching calls, the first `skip` pass untouched; after that each
/// fires with `probability`, at most `limit` times in total (`nil`: no limit).
public struct FaultRule: Sendable {
    /// What a firing rule does to the call.
    public enum Action: Sendable, Equatable {
        /// The call throws `FloeError.io(path:reason: "injected fault: <op>")`;
        /// the inner store never sees it (a write is absent afterwards).
        case fail
        /// The call waits this long, then proceeds (other rules still apply).
        case delay(milliseconds: Int)
        /// The call fails with `"injected crash"` without reaching the inner store,
        /// and the store enters the crashed state (every later call fails).
        case crash
        /// The call reaches the inner store, then throws like `.fail`: the
        /// acknowledgement is lost in flight, so the caller cannot tell whether
        /// a write happened.
        case failAfterApplying
    }

    public var action: Action
    public var operations: Set<ObjectOperation>
    public var pathContains: String
    /// Chance in 0...1 that an eligible call fires the rule; drawn from the store's seeded generator.
    public var probability: Double
    /// Number of matching calls that pass untouched before the rule may fire.
    public var skip: Int
    /// Maximum number of times the rule fires; `nil` for unlimited.
    public var limit: Int?

    /// - Precondition: `probability` is in 0...1, `skip >= 0`, `limit` is nil or `>= 0`,
    ///   and a delay is not negative.
    public init(_ action: Action,
                operations: Set<ObjectOperation> = Set(ObjectOperation.allCases),
                pathContains: String = "",
                probability: Double = 1,
                skip: Int = 0,
                limit: Int? = nil) {
        precondition((0...1).contains(probability), "fault probability must be in 0...1")
        precondition(skip >= 0, "fault skip must not be negative")
        precondition(limit.map { $0 >= 0 } ?? true, "fault limit must not be negative")
        if case let .delay(ms) = action { precondition(ms >= 0, "fault delay must not be negative") }
        self.action = action
        self.operations = operations
        self.pathContains = pathContains
        self.probability = probability
        self.skip = skip
        self.limit = limit
    }

    /// Whether a call of `operation` on `path` is subject to this rule.
    func matches(_ operation: ObjectOperation, _ path: String) -> Bool {
        operations.contains(operation) && (pathContains.isEmpty || path.contains(pathContains))
    }
}
