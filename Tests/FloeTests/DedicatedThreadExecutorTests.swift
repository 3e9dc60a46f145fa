import Synchronization
import Testing
@testable import Floe
#if canImport(Glibc)
import Glibc
#endif

/// The thread-backed executor the compaction lanes run on: its jobs stay on its
/// thread, in order, at its nice value; a job that never suspends does not hold
/// the cooperative pool; nothing is stranded after shutdown; and a store's lanes
/// get such threads and give them back at close.
@Suite struct DedicatedThreadExecutorTests {
    final class Shared: Sendable {
        let order = Mutex<[Int]>([])
        let release = Atomic<Bool>(false)
    }

    /// pthread_self as an integer, so it can cross task boundaries.
    static func threadID() -> UInt { UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(bitPattern: UInt(pthread_self())))) }

    @Test func jobsRunOnItsThreadInOrderAtItsNiceValue() async throws {
        let executor = try DedicatedThreadExecutor(name: "test", nice: 7)
        defer { executor.shutdown() }
        let shared = Shared()
        var tasks: [Task<(UInt, UInt, Int32), Never>] = []
        for i in 0..<50 {
            tasks.append(Task.detached(executorPreference: executor) {
                shared.order.withLock { $0.append(i) }
                let before = Self.threadID()
                await Task.yield() // resumes through the executor again
                return (before, Self.threadID(), getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0))
            })
        }
        var threads = Set<UInt>()
        for t in tasks {
            let (a, b, nice) = await t.value
            threads.insert(a)
            threads.insert(b)
            #expect(nice == 7)
        }
        #expect(threads.count == 1, "every job on the one thread")
        #expect(!threads.contains(Self.threadID()), "not the test's own thread")
        #expect(shared.order.withLock { $0 } == Array(0..<50), "jobs start in the order they were enqueued")
    }

    /// More never-suspending jobs than the machine has cores, each on its own
    /// executor: if they ran on the cooperative pool (one thread per core), the pool
    /// task that releases them could not run and they would time out.
    @Test func busyJobsDoNotHoldTheCooperativePool() async throws {
        let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        let shared = Shared()
        var executors: [DedicatedThreadExecutor] = []
        var spinners: [Task<Bool, Never>] = []
        for _ in 0...cores {
            let e = try DedicatedThreadExecutor(name: "spin")
            executors.append(e)
            spinners.append(Task.detached(executorPreference: e) {
                // Blocks its thread without ever suspending, as a merge does (sleeping
                // rather than spinning, so other suites keep their CPU). The deadline is
                // long: other suites may hold the pool's threads for seconds.
                let deadline = StateStore.monotonicMicros() + 120_000_000
                while !shared.release.load(ordering: .acquiring) {
                    if StateStore.monotonicMicros() > deadline { return false }
                    usleep(500)
                }
                return true
            })
        }
        // Give the spinners time to start, then release them from the pool.
        try await Task.sleep(for: .milliseconds(50))
        await Task.detached { shared.release.store(true, ordering: .releasing) }.value
        for s in spinners { #expect(await s.value, "a spinner timed out: the pool was held") }
        for e in executors { e.shutdown() }
    }

    @Test func nothingIsStrandedByShutdown() async throws {
        let executor = try DedicatedThreadExecutor(name: "test")
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        // Suspended on the executor across its shutdown: the resumption must still run.
        let waiter = Task.detached(executorPreference: executor) { () -> Int in
            var it = stream.makeAsyncIterator()
            return await it.next() ?? -1
        }
        try await Task.sleep(for: .milliseconds(20))
        executor.shutdown()
        try await Task.sleep(for: .milliseconds(20)) // the thread has exited by now
        continuation.yield(42)
        #expect(await waiter.value == 42)
        // A task that prefers the executor after it exited runs elsewhere.
        let late = await Task.detached(executorPreference: executor) { 7 * 6 }.value
        #expect(late == 42)
    }

    /// Threads of this process at nice value `nice`, from /proc.
    static func threads(atNice nice: Int) -> Int {
        guard let dir = opendir("/proc/self/task") else { return -1 }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.first?.isNumber == true, let stat = readWholeFile("/proc/self/task/\(name)/stat") else { continue }
            // Fields after the parenthesised command name; nice is field 19, i.e. the 17th after it.
            guard let close = stat.lastIndex(of: UInt8(ascii: ")")) else { continue }
            let fields = stat[(close + 2)...].split(separator: UInt8(ascii: " "))
            if fields.count > 16, Int(String(decoding: fields[16], as: UTF8.self)) == nice { count += 1 }
        }
        return count
    }

    @Test func storeLanesRunOnThreadsAtTheConfiguredNiceAndEndAtClose() async throws {
        let tmp = try ObjectStoreTempDirectory()
        defer { tmp.remove() }
        let dir = tmp.path
        var o = StoreOptions()
        o.compaction.threadNice = 13
        let before = Self.threads(atNice: 13)
        let db = try await StateStore.open(path: dir, options: o)
        // One lane for maxConcurrentTasks = 1, one intra-L0 lane; each sets its nice
        // value once its thread first runs, which a loaded machine may delay.
        var running = -1
        for _ in 0..<500 {
            running = Self.threads(atNice: 13)
            if running >= before + 2 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(running == before + 2)
        try await db.close()
        var after = -1
        for _ in 0..<500 {
            after = Self.threads(atNice: 13)
            if after == before { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(after == before, "the lanes' threads exit after close")

        // With nothing to compact and no commits, the lanes wake about ten times a
        // second each, not every 5 ms: each wake-up takes a core from readers.
        // Rates over measured time: under a loaded test run this task may wake late,
        // while the lanes (on their own threads) keep their schedule. Nice 0, so a
        // loaded machine does not starve the fast polls checked below.
        var q = o
        q.compaction.threadNice = 0
        let quiet = try await StateStore.open(path: dir, options: q)
        try await Task.sleep(for: .milliseconds(300)) // the first poll after open may be short
        let p0 = quiet.idlePolls.load(ordering: .relaxed), t0 = StateStore.monotonicMicros()
        try await Task.sleep(for: .milliseconds(1000))
        let polls = quiet.idlePolls.load(ordering: .relaxed) - p0
        let seconds = Double(StateStore.monotonicMicros() - t0) / 1e6
        #expect(polls >= 2 && Double(polls) / seconds <= 30, "\(polls) idle polls in \(seconds) s by 2 lanes")
        // A commit makes the lanes poll fast again, for the second after it.
        try quiet.put(TableID(1), key: [1], value: [2], epoch: quiet.committedEpoch + 1)
        try await quiet.checkpoint(epoch: quiet.committedEpoch + 1, metadata: [:])
        let p1 = quiet.idlePolls.load(ordering: .relaxed)
        try await Task.sleep(for: .milliseconds(900))
        let busy = quiet.idlePolls.load(ordering: .relaxed) - p1
        #expect(busy >= 40, "\(busy) polls right after a commit")
        try await quiet.close()

        o.compaction.threadNice = 20
        await #expect(throws: FloeError.self) { _ = try await StateStore.open(path: dir, options: o) }
        o.compaction.threadNice = -1
        do {
            _ = try await StateStore.open(path: dir, options: o)
            Issue.record("a negative nice value was accepted")
        } catch let FloeError.invalidArgument(why) {
            #expect(why.contains("threadNice"))
        }
    }
}
