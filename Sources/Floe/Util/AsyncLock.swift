import Synchronization

/// A FIFO lock for async code: holders may suspend (await I/O) while holding it.
/// Used to linearise manifest commits inside one process.
final class AsyncLock: Sendable {
    private let state = Lock<(held: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func lock() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { s -> Bool in
                if s.held { s.waiters.append(c); return false }
                s.held = true
                return true
            }
            if acquired { c.resume() }
        }
    }

    func unlock() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty { s.held = false; return nil }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }

    /// Whether someone holds the lock now (a hint: it may change at once).
    var isLocked: Bool { state.withLock { $0.held } }

    func withLock<T: Sendable>(_ body: () async throws -> T) async rethrows -> T {
        await lock()
        defer { unlock() }
        return try await body()
    }
}
