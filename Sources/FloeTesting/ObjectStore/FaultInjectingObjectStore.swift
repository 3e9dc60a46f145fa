import Floe
import Synchronization

/// Wraps an object store and injects failures, delays and crashes according to
/// `FaultRule`s, for tests and `floe crashtest`.
///
/// - Determinism: every random draw comes from one `SplitMix64` seeded in `init`,
///   taken under the store's lock, so the same seed and the same sequence of calls
///   injects the same faults. (Concurrent callers make the sequence itself racy.)
/// - Rules are consulted in the order they were added. Every firing `.delay` adds
///   its wait; the first firing terminal rule (`.fail`, `.crash`,
///   `.failAfterApplying`) decides the call, and later rules are not consulted
///   (their `skip` counters do not advance for it).
/// - A failed (`.fail`) or crashing call never reaches the inner store: a write
///   is absent afterwards, never partial.
/// - After `crash()` or a `.crash` rule fires, every call, including one that was
///   still delayed, fails with `FloeError.io(path:reason: "injected crash")` and
///   never reaches the inner store. A new `FaultInjectingObjectStore` over the
///   same inner store models the restarted process.
///
/// Errors: injected failures are `FloeError.io(path:reason: "injected fault: <op>")`
/// (for `list`, `path` is the prefix; for a batch `delete`, the first path a rule
/// matches); errors of the inner store pass through.
public final class FaultInjectingObjectStore: ObjectStore {
    /// The wrapped store, which holds whatever survived the injected faults.
    public let inner: any ObjectStore

    private struct ActiveRule {
        var rule: FaultRule
        var matched = 0
        var fired = 0
    }

    private struct State {
        var rules: [ActiveRule]
        var rng: SplitMix64
        var crashed = false
        var counts: [ObjectOperation: Int] = [:]
        var injectedFailures = 0
    }

    /// What the rules decided for one call.
    private enum Verdict { case pass, fail, crash, failAfterApplying }

    private let state: Lock<State>

    /// Wraps `inner`; `seed` drives every probabilistic rule.
    public init(wrapping inner: any ObjectStore, seed: UInt64 = 0, rules: [FaultRule] = []) {
        self.inner = inner
        self.state = Lock(State(rules: rules.map { ActiveRule(rule: $0) }, rng: SplitMix64(seed: seed)))
    }

    /// Adds a rule after the existing ones.
    public func addRule(_ rule: FaultRule) {
        state.withLock { $0.rules.append(ActiveRule(rule: rule)) }
    }

    /// Removes every rule; a crashed store stays crashed.
    public func removeAllRules() {
        state.withLock { $0.rules.removeAll() }
    }

    /// Simulates the process dying: every later call fails with `"injected crash"`.
    public func crash() {
        state.withLock { $0.crashed = true }
    }

    /// Whether `crash()` was called or a `.crash` rule fired.
    public var isCrashed: Bool { state.withLock { $0.crashed } }

    /// Number of calls of `operation` made so far, including ones that failed.
    public func operationCount(_ operation: ObjectOperation) -> Int {
        state.withLock { $0.counts[operation, default: 0] }
    }

    /// Number of calls a rule made fail (`.fail`, `.crash`, `.failAfterApplying`).
    /// Calls refused because the store was already crashed are not counted.
    public var injectedFailures: Int { state.withLock { $0.injectedFailures } }

    // MARK: - ObjectStore

    public func put(_ path: String, _ bytes: [UInt8]) async throws {
        try await run(.put, path) { try await inner.put(path, bytes) }
    }

    public func createIfAbsent(_ path: String, _ bytes: [UInt8]) async throws -> Bool {
        try await run(.createIfAbsent, path) { try await inner.createIfAbsent(path, bytes) }
    }

    public func get(_ path: String) async throws -> [UInt8] {
        try await run(.get, path) { try await inner.get(path) }
    }

    public func get(_ path: String, range: Range<Int>) async throws -> [UInt8] {
        try await run(.get, path) { try await inner.get(path, range: range) }
    }

    public func size(_ path: String) async throws -> Int {
        try await run(.size, path) { try await inner.size(path) }
    }

    public func delete(_ path: String) async throws {
        try await run(.delete, path) { try await inner.delete(path) }
    }

    /// One `.delete` call for the whole batch: the rules decide once (a rule
    /// matches if it matches any of the paths; the error names the first path the
    /// deciding rule matches), and a passing batch reaches the inner store as one batch.
    public func delete(_ paths: [String]) async throws {
        try await run(.delete, paths) { try await inner.delete(paths) }
    }

    public func list(prefix: String) async throws -> [ObjectInfo] {
        try await run(.list, prefix) { try await inner.list(prefix: prefix) }
    }

    // MARK: - Injection

    private func run<T>(_ operation: ObjectOperation, _ path: String,
                        _ body: () async throws -> T) async throws -> T {
        try await run(operation, [path], body)
    }

    /// As `run(_:_:_:)` for a call on several paths (an empty list: on `""`).
    private func run<T>(_ operation: ObjectOperation, _ paths: [String],
                        _ body: () async throws -> T) async throws -> T {
        let (delay, verdict, path) = try decide(operation, paths.isEmpty ? [""] : paths)
        if delay > 0 {
            try await Task.sleep(for: .milliseconds(delay))
            // A crash while the call was in flight stops it before the inner store.
            if isCrashed { throw crashError(path) }
        }
        switch verdict {
        case .pass:
            return try await body()
        case .fail:
            throw injectedError(operation, path)
        case .crash:
            throw crashError(path)
        case .failAfterApplying:
            _ = try await body()
            throw injectedError(operation, path)
        }
    }

    /// Counts the call and evaluates the rules under the lock, so the random
    /// draws happen in call order. Returns the total delay in milliseconds, the
    /// verdict and the path an error names (the first of `paths` the deciding
    /// rule matches); throws if the store is crashed.
    private func decide(_ operation: ObjectOperation, _ paths: [String]) throws -> (Int, Verdict, String) {
        try state.withLock { s in
            s.counts[operation, default: 0] += 1
            if s.crashed { throw crashError(paths[0]) }
            var delay = 0
            for i in s.rules.indices {
                guard let path = paths.first(where: { s.rules[i].rule.matches(operation, $0) }) else { continue }
                s.rules[i].matched += 1
                let rule = s.rules[i].rule
                if s.rules[i].matched <= rule.skip { continue }
                if let limit = rule.limit, s.rules[i].fired >= limit { continue }
                // Certain outcomes draw nothing, so adding a p=1 rule does not
                // shift the random pattern of the others.
                let fires: Bool
                if rule.probability >= 1 { fires = true }
                else if rule.probability <= 0 { fires = false }
                else { fires = Double(s.rng.next() >> 11) * 0x1p-53 < rule.probability }
                guard fires else { continue }
                s.rules[i].fired += 1
                switch rule.action {
                case let .delay(milliseconds):
                    delay += milliseconds
                    continue
                case .fail:
                    s.injectedFailures += 1
                    return (delay, .fail, path)
                case .crash:
                    s.injectedFailures += 1
                    s.crashed = true
                    return (delay, .crash, path)
                case .failAfterApplying:
                    s.injectedFailures += 1
                    return (delay, .failAfterApplying, path)
                }
            }
            return (delay, .pass, paths[0])
        }
    }

    private func injectedError(_ operation: ObjectOperation, _ path: String) -> FloeError {
        .io(path: path, reason: "injected fault: \(operation.rawValue)")
    }

    private func crashError(_ path: String) -> FloeError {
        .io(path: path, reason: "injected crash")
    }
}
