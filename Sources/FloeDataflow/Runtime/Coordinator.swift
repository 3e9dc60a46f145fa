import Floe
import Synchronization

/// The shared state of one run: which barriers the sources must inject, the
/// position (offset, max event time, late rows) each source partition had at each
/// barrier, and the terminal
/// instances' acknowledgements. The commit loop waits here for each epoch in turn.
///
/// Safe to share: every field is an atomic or under `state`.
final class Coordinator: Sendable {
    private struct State {
        var positions: [Epoch: [[SourcePosition]]] = [:]
        var acks: [Epoch: Int] = [:]
        var injectedAt: [Epoch: ContinuousClock.Instant] = [:]
        /// When the last acknowledgement of an epoch arrived.
        var ackedAt: [Epoch: ContinuousClock.Instant] = [:]
        var reachedEnd = 0
        var waiter: (epoch: Epoch, continuation: CheckedContinuation<Bool, Never>)?
        var failed: (any Error)?
        /// Set once the commit loop ended (or the run failed); then `commitWaiters` are resumed.
        var commitsEnded = false
        var commitWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// Sources inject every barrier up to this epoch.
    let requested: Atomic<UInt64>
    /// Nonzero: sources end after injecting the barrier of this epoch.
    let stopEpoch = Atomic<UInt64>(0)
    /// Rows read from the sources.
    let events = Atomic<Int>(0)
    /// Every view's digest change per epoch, from the `Materialize` instances.
    let digests = ViewDigestDeltas()
    let expectedAcks: Int
    let partitions: [Int]
    let totalPartitions: Int
    private let state = Lock(State())
    /// Cancelled on failure, so that no task waits forever on a channel.
    private let inboxes = Lock<[Inbox]>([])

    func register(_ list: [Inbox]) { inboxes.withLock { $0 += list } }

    init(startEpoch: Epoch, expectedAcks: Int, partitions: [Int]) {
        requested = Atomic(startEpoch - 1)
        self.expectedAcks = expectedAcks
        self.partitions = partitions
        totalPartitions = partitions.reduce(0, +)
    }

    /// Asks the sources for the barrier of `epoch` (the next one).
    func inject(_ epoch: Epoch) {
        state.withLock { $0.injectedAt[epoch] = .now }
        requested.store(epoch, ordering: .releasing)
    }

    /// When the barrier of `epoch` was injected (nil: not injected by this run) and
    /// when its last acknowledgement arrived, forgotten by the call: called once per
    /// epoch, when all its acks are in.
    func takeTimes(_ epoch: Epoch) -> (injected: ContinuousClock.Instant, acked: ContinuousClock.Instant)? {
        state.withLock { s in
            let acked = s.ackedAt.removeValue(forKey: epoch)
            guard let injected = s.injectedAt.removeValue(forKey: epoch) else { return nil }
            return (injected, acked ?? .now)
        }
    }

    /// Source partition `partition` of source `source` injected the barrier of `epoch` at `position`.
    func reportPosition(source: Int, partition: Int, epoch: Epoch, position: SourcePosition) {
        state.withLock { s in
            if s.positions[epoch] == nil { s.positions[epoch] = partitions.map { Array(repeating: SourcePosition(), count: $0) } }
            s.positions[epoch]![source][partition] = position
        }
    }

    /// Every partition's position at the barrier of `epoch` (each source, then each partition).
    func takePositions(_ epoch: Epoch) -> [[SourcePosition]]? {
        state.withLock { $0.positions.removeValue(forKey: epoch) }
    }

    /// A terminal instance ended `epoch`.
    func ack(_ epoch: Epoch) {
        let wake: CheckedContinuation<Bool, Never>? = state.withLock { s in
            s.acks[epoch, default: 0] += 1
            if s.acks[epoch]! == expectedAcks { s.ackedAt[epoch] = .now }
            if let w = s.waiter, w.epoch == epoch, s.acks[epoch]! >= expectedAcks {
                s.waiter = nil
                s.acks.removeValue(forKey: epoch)
                return w.continuation
            }
            return nil
        }
        wake?.resume(returning: true)
    }

    /// Waits until every terminal instance ended `epoch`; false when the run failed.
    func waitForAcks(_ epoch: Epoch) async -> Bool {
        await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            let now: Bool? = state.withLock { s in
                if s.failed != nil { return false }
                if s.acks[epoch, default: 0] >= expectedAcks {
                    s.acks.removeValue(forKey: epoch)
                    return true
                }
                s.waiter = (epoch, c)
                return nil
            }
            if let now { c.resume(returning: now) }
        }
    }

    /// A source partition consumed everything it had to.
    func partitionReachedEnd() {
        state.withLock { $0.reachedEnd += 1 }
    }

    var allReachedEnd: Bool { state.withLock { $0.reachedEnd >= totalPartitions } }

    /// Returns once the commit loop ended or the run failed.
    func waitForCommits() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s in
                if s.commitsEnded || s.failed != nil { return true }
                s.commitWaiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    /// The commit loop ended: wakes `waitForCommits`.
    func commitsEnded() {
        let waiters = state.withLock { s in
            s.commitsEnded = true
            defer { s.commitWaiters.removeAll() }
            return s.commitWaiters
        }
        for w in waiters { w.resume() }
    }

    /// Records the first failure and wakes the commit loop (and `waitForCommits`).
    func fail(_ error: any Error) {
        let (w, c): (CheckedContinuation<Bool, Never>?, [CheckedContinuation<Void, Never>]) = state.withLock { s in
            if s.failed == nil { s.failed = error }
            defer { s.waiter = nil; s.commitWaiters.removeAll() }
            return (s.waiter?.continuation, s.commitWaiters)
        }
        w?.resume(returning: false)
        for waiter in c { waiter.resume() }
        for i in inboxes.withLock({ $0 }) { i.cancel() }
    }

    var failure: (any Error)? { state.withLock { $0.failed } }
}
