import Synchronization

/// A counting semaphore for async code: at most `permits` holders at once, the
/// rest wait in FIFO order without blocking a thread.
package final class AsyncSemaphore: Sendable {
    private let state: Lock<(available: Int, waiters: [CheckedContinuation<Void, Never>])>

    /// - Precondition: `permits >= 1`.
    package init(permits: Int) {
        precondition(permits >= 1, "a semaphore needs at least one permit")
        state = Lock((permits, []))
    }

    package func acquire() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { s -> Bool in
                if s.available > 0 { s.available -= 1; return true }
                s.waiters.append(c)
                return false
            }
            if acquired { c.resume() }
        }
    }

    /// Hands the permit to the oldest waiter, or returns it.
    package func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty { s.available += 1; return nil }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }

    package func withPermit<T: Sendable>(_ body: () async throws -> T) async rethrows -> T {
        await acquire()
        defer { release() }
        return try await body()
    }
}
