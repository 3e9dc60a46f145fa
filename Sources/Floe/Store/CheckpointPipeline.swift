/// Pipelined checkpoints, the way a streaming engine takes them: the writer
/// seals an epoch and goes on writing the next one while the sealed epoch is
/// synced and committed in the background.
///
/// Invariants:
/// - Syncs start in epoch order: `sync(epoch: e)` is called only after
///   `sync(epoch: e - 1)` returned. `sync` takes every sealed epoch up to its
///   argument, so a later epoch's sync that started first would take epoch
///   `e` too and leave `commit(epoch: e)` without its data (`commitOutOfOrder`).
/// - Commits happen in epoch order, each with the metadata given for its epoch.
/// - At most `depth` sealed epochs are in flight; `endEpoch` waits for the
///   oldest before it hands over another one.
/// - A handed-over epoch counts as in flight for `StateStore.waitForWriteBudget`
///   from `endEpoch` until its commit task ends (committed or failed), also
///   before its tasks have started: "wait for budget, then retry the write"
///   waits for the pipeline instead of throwing `memoryBudgetExceeded`.
/// - After a sync or commit fails, no later epoch of this pipeline commits: the
///   error is rethrown by `endEpoch` or `drain`, and the pipeline is spent (every
///   later call rethrows it). The store still holds exactly the epochs committed
///   before the failure; the sealed epochs after it stay claimed by syncs whose
///   results died with the pipeline, so reopen the store and replay from its
///   committed epoch (and metadata). For retries in place, use
///   `StateStore.checkpoint`, which takes one epoch at a time.
///
/// Not thread-safe: one writer owns a pipeline, as it owns the epoch it writes.
public struct CheckpointPipeline {
    /// One epoch whose commit returned.
    public struct Completed: Sendable, Equatable {
        public var epoch: Epoch
        /// From just before `seal` to the return of `commit`.
        public var latencyNanos: UInt64
    }

    private struct InFlight {
        var epoch: Epoch
        var synced: Task<SyncResult, Error>
        var committed: Task<UInt64, Error>
    }

    public let store: StateStore
    /// The most sealed epochs in flight at once.
    public let depth: Int
    /// The epoch being written: pass it to `put`, `delete` and `write`. After
    /// `Epoch.max` was handed over it stays `Epoch.max` (sealed: writes to it are refused).
    public private(set) var epoch: Epoch
    /// `Epoch.max` was handed over: no epoch follows it, so `endEpoch` refuses to go on.
    private var pastLastEpoch = false
    private var inflight: [InFlight] = []
    private var failure: Error?
    /// Runs first in each epoch's sync task; tests use it to start tasks late, the
    /// way a busy scheduler may.
    var taskStartHook: (@Sendable (Epoch) async -> Void)?

    /// Starts at the epoch after the store's committed one.
    /// Throws `invalidArgument` when `depth < 1` or the committed epoch is `Epoch.max`
    /// (no epoch follows it).
    public init(store: StateStore, depth: Int = 2) throws {
        guard depth >= 1 else { throw FloeError.invalidArgument("checkpoint pipeline depth must be at least 1, not \(depth)") }
        let committed = store.committedEpoch
        guard committed < Epoch.max else {
            throw FloeError.invalidArgument("the store's committed epoch is \(committed) (Epoch.max): no epoch follows it")
        }
        self.store = store
        self.depth = depth
        self.epoch = committed + 1
    }

    /// Seals the current epoch, hands its sync and commit (with `metadata`) to
    /// the background and moves on to the next epoch. If `depth` epochs were
    /// already in flight it first waits for the oldest, which it returns.
    /// Throws the seal's error (nothing is handed over then), or the error of the
    /// waited-for epoch's sync or commit; `invalidArgument` once `Epoch.max` was
    /// handed over (the last epoch there is: `drain` commits it).
    @discardableResult
    public mutating func endEpoch(metadata: [String: [UInt8]] = [:]) async throws -> Completed? {
        if let failure { throw failure }
        if pastLastEpoch {
            throw FloeError.invalidArgument("epoch \(Epoch.max) (Epoch.max) was the last epoch: no epoch follows it to end")
        }
        let start = ContinuousClock.now
        try store.seal(epoch: epoch)
        var done: Completed?
        if inflight.count >= depth { done = try await collectOldest() }
        let e = epoch, store = store
        let prevSync = inflight.last?.synced, prevCommit = inflight.last?.committed, hook = taskStartHook
        // Released by the commit task however it ends: the tasks may not start for a while.
        store.state.withLock { $0.inFlight += 1 }
        let synced = Task {
            await hook?(e)
            _ = try await prevSync?.value
            return try await store.sync(epoch: e)
        }
        let committed = Task {
            defer { store.state.withLock { $0.inFlight -= 1 } }
            let r = try await synced.value
            _ = try await prevCommit?.value
            try await store.commit(epoch: e, r, metadata: metadata)
            let d = ContinuousClock.now - start
            return UInt64(d.components.seconds) * 1_000_000_000 + UInt64(d.components.attoseconds / 1_000_000_000)
        }
        inflight.append(InFlight(epoch: e, synced: synced, committed: committed))
        if epoch == Epoch.max { pastLastEpoch = true } else { epoch += 1 }
        return done
    }

    /// Waits until every sealed epoch is committed; returns them in epoch order.
    /// Throws the first sync or commit error.
    public mutating func drain() async throws -> [Completed] {
        if let failure { throw failure }
        var out: [Completed] = []
        while !inflight.isEmpty { out.append(try await collectOldest()) }
        return out
    }

    private mutating func collectOldest() async throws -> Completed {
        let oldest = inflight.removeFirst()
        do {
            return Completed(epoch: oldest.epoch, latencyNanos: try await oldest.committed.value)
        } catch {
            failure = error
            // Later epochs wait on this one and fail with the same error; none commits.
            for f in inflight { _ = try? await f.committed.value }
            inflight.removeAll()
            throw error
        }
    }
}
