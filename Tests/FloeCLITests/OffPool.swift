import Foundation

/// Runs `body`, which blocks (waits for a child process, reads its pipe), on a
/// thread of its own: blocking a thread of Swift's cooperative pool (two threads
/// on a 2-core machine) would stall every other test of the parallel run.
func offCooperativePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
        let thread = Thread { c.resume(with: Result { try body() }) }
        thread.start()
    }
}
