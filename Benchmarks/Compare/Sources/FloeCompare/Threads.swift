#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Runs `body(0) ... body(n - 1)` on `n` fresh POSIX threads and waits for all.
/// The peers' C calls block, so they get real threads, not the cooperative pool.
func runThreads(_ n: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Job {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }
    var threads: [pthread_t] = []
    for t in 0..<n {
        let job = Unmanaged.passRetained(Job { body(t) }).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, job)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}

/// A sum the worker threads add to.
final class SharedCount: Sendable {
    private let value = Atomic<Int>(0)
    func add(_ n: Int) { value.add(n, ordering: .relaxed) }
    var total: Int { value.load(ordering: .relaxed) }
}

/// The first error a worker thread hit.
final class SharedError: Sendable {
    private let first = Mutex<String?>(nil)
    func record(_ message: String) { first.withLock { if $0 == nil { $0 = message } } }
    var message: String? { first.withLock { $0 } }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
