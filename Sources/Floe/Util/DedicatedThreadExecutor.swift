#if canImport(Glibc)
import Glibc
#endif

/// A task executor that runs its jobs, in order, on one OS thread of its own.
///
/// Why: a compaction merges for seconds without a real suspension (reads of a
/// local directory complete synchronously), and Swift's cooperative pool has one
/// thread per core. On that pool the compaction lanes held every thread, so a
/// reader's or the checkpoint pipeline's continuation waited until a merge
/// happened to suspend (the first get after a restart with a deep L0 waited
/// for a merge). On threads of their own the kernel time-slices compactions with
/// the pool, as RocksDB's background thread pool does.
///
/// `shutdown()` lets the thread exit once its queue is empty; a job that arrives
/// later (a task that was suspended then) runs on the global concurrent executor,
/// so no task is ever stranded.
///
/// `@unchecked Sendable`: `queue`, `head`, `stopping` and `exited` are read and
/// written only with `mutex` held; `cond` is signalled under it; `nice` is immutable.
final class DedicatedThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var queue: [UnownedJob] = []
    private var head = 0
    private var stopping = false
    private var exited = false

    private let nice: Int

    /// Starts the thread at nice value `nice` (0 = as the process); `name` says what
    /// it is for in errors.
    /// - Throws: `FloeError.io` if the thread cannot be created.
    init(name: String, nice: Int = 0) throws {
        self.nice = nice
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let executor = Unmanaged<DedicatedThreadExecutor>.fromOpaque(raw!).takeRetainedValue()
            executor.runLoop()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<DedicatedThreadExecutor>.fromOpaque(context).release()
            throw FloeError.io(path: name, reason: "pthread_create failed (\(rc))")
        }
        pthread_detach(thread)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        pthread_mutex_lock(mutex)
        if exited {
            pthread_mutex_unlock(mutex)
            globalConcurrentExecutor.enqueue(ExecutorJob(unowned))
            return
        }
        queue.append(unowned)
        pthread_cond_signal(cond)
        pthread_mutex_unlock(mutex)
    }

    /// Lets the thread exit once it has run every queued job.
    func shutdown() {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_signal(cond)
        pthread_mutex_unlock(mutex)
    }

    private func runLoop() {
        // Linux keeps a nice value per thread, and `who == 0` names the calling one.
        // Lowering it needs no privilege; a failure leaves the thread at the default.
        if nice > 0 { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, Int32(nice)) }
        let me = asUnownedTaskExecutor()
        while true {
            pthread_mutex_lock(mutex)
            while head == queue.count && !stopping { pthread_cond_wait(cond, mutex) }
            if head == queue.count {
                exited = true
                queue = []
                pthread_mutex_unlock(mutex)
                return
            }
            let job = queue[head]
            head += 1
            if head == queue.count { queue.removeAll(keepingCapacity: true); head = 0 }
            pthread_mutex_unlock(mutex)
            job.runSynchronously(on: me)
        }
    }
}
