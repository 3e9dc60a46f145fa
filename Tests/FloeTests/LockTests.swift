import Testing
@testable import Floe

/// `Lock` is `Synchronization.Mutex` plus ThreadSanitizer annotations: it must
/// still exclude. Under `--sanitize=thread` this test is also the check that the
/// annotations name one lock consistently: if they did not, TSan would report the
/// plain (non-atomic) fields below as raced whenever the futex was contended.
@Suite struct LockTests {
    private struct Counters {
        var inside = false
        var overlaps = 0
        var total = 0
        var log: [Int] = []
    }

    private final class Shared: Sendable {
        let lock = Lock(Counters())
    }

    @Test func concurrentBodiesNeverOverlapAndNoUpdateIsLost() async {
        let shared = Shared()
        let tasks = 8, rounds = 5_000, every = 16
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<tasks {
                group.addTask {
                    for r in 0..<rounds {
                        shared.lock.withLock { c in
                            if c.inside { c.overlaps += 1 }
                            c.inside = true
                            c.total += 1
                            // Some work under the lock, so holders really meet and the futex is contended.
                            if r % every == 0 { c.log.append(t) }
                            c.inside = false
                        }
                    }
                }
            }
        }
        let c = shared.lock.withLock { $0 }
        #expect(c.overlaps == 0)
        #expect(c.total == tasks * rounds)
        #expect(c.log.count == tasks * ((rounds + every - 1) / every))
        for t in 0..<tasks { #expect(c.log.filter { $0 == t }.count == (rounds + every - 1) / every, "task \(t)") }
    }

    @Test func errorsFromTheBodyPropagateAndReleaseTheLock() {
        struct Refused: Error, Equatable {}
        let lock = Lock(0)
        #expect(throws: Refused.self) {
            try lock.withLock { (v: inout Int) throws(Refused) -> Void in
                v = 7
                throw Refused()
            }
        }
        // Released despite the throw (otherwise this would deadlock), and the write before it stands.
        #expect(lock.withLock { $0 } == 7)
    }
}
