import Dispatch
import Synchronization
import Foundation
import Floe
import FloeTesting
import Testing
@testable import FloeDataflow

/// How operator caches drop entries (`CacheCompaction` over a `SlotIndex`),
/// checked against a dictionary from key to slot under random inserts and
/// compactions, with tags that collide on purpose, so that probing past equal
/// tags and the index's backward shifts all run.
@Suite struct CacheCompactionTests {
    /// A cache as the operators keep one: keys in slots, their tags, the index over them.
    struct Cache {
        var keys: [[UInt8]] = []
        var tags: [UInt32] = []
        var index = SlotIndex()
        /// `bits` of the real tag: few bits make many keys share one.
        let bits: Int

        func tag(_ key: [UInt8]) -> UInt32 {
            let t = ByteKey.tag(key)
            return bits >= 32 ? t : t & ((1 << UInt32(bits)) - 1)
        }

        func find(_ key: [UInt8]) -> Int32? { index.find(tag: tag(key)) { keys[Int($0)] == key } }

        mutating func insert(_ key: [UInt8]) {
            keys.append(key)
            tags.append(tag(key))
            index.insert(tag: tags.last!, slot: Int32(keys.count - 1))
        }

        mutating func keepOnly(_ keep: [Bool]) {
            let plan = CacheCompaction(keep: keep)
            for s in plan.dropped { index.remove(tag: tags[s], slot: Int32(s)) }
            for m in plan.moves {
                keys.swapAt(m.from, m.to)
                tags.swapAt(m.from, m.to)
                index.move(tag: tags[m.to], from: Int32(m.from), to: Int32(m.to))
            }
            keys.removeLast(keys.count - plan.count)
            tags.removeLast(tags.count - plan.count)
        }
    }

    @Test(arguments: ModelSeeds.thinned(Array(1...60) as [UInt64]))
    func randomOperationsMatchADictionary(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        var cache = Cache(bits: [1, 3, 32][Int(g.next() % 3)])
        for _ in 0..<Int(g.next() % 3000) + 200 {
            let key: [UInt8] = [UInt8(g.next() % 16), UInt8(g.next() % 64), UInt8(g.next() % 3)]
            switch g.next() % 10 {
            case 0..<6:
                if cache.find(key) == nil { cache.insert(key) }
            case 6..<9:
                // Drop a random share of the slots, as eviction and closed windows do.
                let p = g.next() % 100
                cache.keepOnly(cache.keys.indices.map { _ in g.next() % 100 >= p })
            default:
                cache.index.removeAll()
                cache.keys.removeAll()
                cache.tags.removeAll()
            }
            #expect(cache.index.count == cache.keys.count, "seed \(seed)")
        }
        // Every cached key is found at its slot; absent keys are not found.
        var model: [[UInt8]: Int] = [:]
        for (s, k) in cache.keys.enumerated() {
            #expect(model.updateValue(s, forKey: k) == nil, "seed \(seed): key \(k) cached twice")
        }
        for a in 0..<16 {
            for b in 0..<64 {
                for c in 0..<3 {
                    let key: [UInt8] = [UInt8(a), UInt8(b), UInt8(c)]
                    #expect(cache.find(key).map(Int.init) == model[key], "seed \(seed): key \(key)")
                }
            }
        }
    }

    @Test func compactionFillsHolesFromTheEnd() {
        let plan = CacheCompaction(keep: [false, true, false, true, true, false, true])
        #expect(plan.count == 4)
        #expect(plan.dropped == [0, 2, 5])
        // Holes 0 and 2 (below 4) take the kept slots 4 and 6; slot 3 stays.
        #expect(plan.moves.map(\.from) == [4, 6])
        #expect(plan.moves.map(\.to) == [0, 2])
        #expect(CacheCompaction(keep: []).count == 0)
        #expect(CacheCompaction(keep: [true, true]).moves.isEmpty)
        #expect(CacheCompaction(keep: [false, false]).dropped == [0, 1])
        #expect(CacheCompaction.mask([0, 2], count: 4) == [true, false, true, false])
    }

    /// Runs every job on one thread of its own, first in, first out: two tasks on it
    /// interleave only where one suspends.
    final class OneThreadExecutor: TaskExecutor, @unchecked Sendable {
        // @unchecked: `jobs` is touched only with `ready` locked.
        private let ready = NSCondition()
        private var jobs: [UnownedJob] = []

        init() {
            Thread { [unowned self] in
                while true {
                    ready.lock()
                    while jobs.isEmpty { ready.wait() }
                    let job = jobs.removeFirst()
                    ready.unlock()
                    job.runSynchronously(on: asUnownedTaskExecutor())
                }
            }.start()
        }

        func enqueue(_ job: consuming ExecutorJob) {
            let job = UnownedJob(job)
            ready.lock()
            jobs.append(job)
            ready.signal()
            ready.unlock()
        }
    }

    /// A trim frees the dropped slots a slice at a time and yields between slices,
    /// so a task waiting for the same thread (the commit loop, a sync) runs before
    /// the trim ends, not after hundreds of milliseconds. Both tasks share one
    /// thread, queued trim first while the thread is held: the other task's mark
    /// lands between the trim's start and its end only if the trim suspended. The
    /// slots left are the first ones, unchanged.
    @Test func cuttingYieldsBetweenSlicesAndKeepsTheFirstSlots() async {
        let executor = OneThreadExecutor()
        final class Log: Sendable {
            let lines = Mutex<[String]>([])
            func withLock<T>(_ body: (inout [String]) -> T) -> T { lines.withLock { body(&$0) } }
        }
        let log = Log()
        let slots = (0..<(CacheCompaction.cutSlice * 5)).map { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
        // The thread is held while both tasks are queued on it, the trim first.
        let gate = DispatchSemaphore(value: 0)
        let blocker = Task(executorPreference: executor) { gate.wait() }
        let trim = Task(executorPreference: executor) {
            var s = slots
            log.withLock { $0.append("trim start") }
            await CacheCompaction.cut(&s, to: 100)
            log.withLock { $0.append("trim end") }
            return s
        }
        let other = Task(executorPreference: executor) { log.withLock { $0.append("other") } }
        gate.signal()
        await blocker.value
        let kept = await trim.value
        await other.value
        #expect(log.withLock { $0 } == ["trim start", "other", "trim end"])
        #expect(kept == Array(slots.prefix(100)))
        var none = slots
        await CacheCompaction.cut(&none, to: slots.count)
        #expect(none == slots)
    }
}
