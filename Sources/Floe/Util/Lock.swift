import CTSan
import Synchronization

/// A `Synchronization.Mutex` whose hand-offs ThreadSanitizer can see. Every
/// mutex of the store is one of these; the API is `Mutex`'s `withLock`.
///
/// Why: on Linux `Mutex` is a priority-inheritance futex. Uncontended, it is an
/// atomic compare-exchange inlined into our (instrumented) code, which TSan sees.
/// Contended, the lock is handed over by the kernel (`FUTEX_LOCK_PI` /
/// `FUTEX_UNLOCK_PI` in the uninstrumented `libswiftSynchronization`), so TSan
/// sees neither the release nor the acquire and reports every access made under
/// a contended lock as a data race. Swift's own runtime had to annotate its
/// private Linux lock for the same reason (swiftlang/swift#66877). Here the body
/// runs between `__tsan_acquire` and `__tsan_release` on the lock's address,
/// which is exactly the mutex's happens-before order, so real races (an access
/// outside the lock) are still reported.
///
/// Cost outside TSan builds: two never-taken branches on a weak symbol per lock.
package struct Lock<Value>: ~Copyable {
    private let mutex: Mutex<Value>

    /// A lock guarding `initialValue`. Keep it in one place (a `let` of a class, as
    /// everywhere in the store): its address is its identity for TSan.
    package init(_ initialValue: consuming sending Value) {
        mutex = Mutex(initialValue)
    }

    /// Runs `body` with exclusive access to the value. Must not be re-entered
    /// from `body` (the lock is not recursive: that deadlocks).
    @inline(__always)
    package borrowing func withLock<Result, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        // A noncopyable lock is borrowed in place, so its address names it for TSan.
        // The pointer is only a key, never dereferenced. (Not `&value` inside the
        // lock: under TSan that inout access is itself instrumented, before the acquire.)
        let key = withUnsafePointer(to: self) { UnsafeMutableRawPointer(mutating: $0) }
        return try mutex.withLock { (value: inout sending Value) throws(E) -> sending Result in
            floe_tsan_acquire(key)
            defer { floe_tsan_release(key) }
            return try body(&value)
        }
    }
}
