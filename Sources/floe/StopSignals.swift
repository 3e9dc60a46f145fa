import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Set by the SIGINT/SIGTERM handler of `withStopSignals`. A lock-free atomic
/// store is async-signal-safe.
private let stopRequested = Atomic<Int32>(0)

/// Runs `body` in a task that SIGINT or SIGTERM cancels. Returns nil when a
/// signal stopped it (its error, if any, is then the cancellation's).
func withStopSignals<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T? {
    signal(SIGINT) { _ in stopRequested.store(1, ordering: .relaxed) }
    signal(SIGTERM) { _ in stopRequested.store(1, ordering: .relaxed) }
    let task = Task { try await body() }
    let watcher = Task {
        while !Task.isCancelled {
            if stopRequested.load(ordering: .relaxed) != 0 {
                task.cancel()
                return
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
    defer { watcher.cancel() }
    do {
        return try await task.value
    } catch {
        if stopRequested.load(ordering: .relaxed) != 0 { return nil }
        throw error
    }
}
