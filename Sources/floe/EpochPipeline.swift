import Floe

/// Checkpoints epochs the way a streaming engine does: the writer seals an
/// epoch, a background task syncs and commits it (commits in epoch order) while
/// the writer goes on with the next epoch, and at most `depth` sealed epochs are
/// in flight before the writer waits. Records each epoch's commit latency, from
/// just before `seal` to the return of `commit`.
struct EpochPipeline {
    let db: StateStore
    let depth: Int
    /// The epoch being written: pass it to `put`.
    private(set) var epoch: Epoch
    /// Seal-to-commit latency of every epoch collected so far.
    private(set) var commitLatency = LatencyHistogram()
    private(set) var epochsCommitted = 0
    private var inflight: [Task<UInt64, Error>] = []

    init(db: StateStore, depth: Int) {
        self.db = db
        self.depth = depth
        self.epoch = db.committedEpoch + 1
    }

    /// Seals the current epoch, hands its sync and commit to a background task
    /// (after waiting for the oldest in-flight epoch if `depth` are in flight)
    /// and moves on to the next epoch.
    mutating func endEpoch(metadata: [String: [UInt8]] = [:]) async throws {
        let start = Timer.nanos()
        try db.seal(epoch: epoch)
        if inflight.count >= depth { try await collect(inflight.removeFirst()) }
        let e = epoch, prev = inflight.last, store = db
        inflight.append(Task {
            let r = try await store.sync(epoch: e)
            _ = try await prev?.value
            try await store.commit(epoch: e, r, metadata: metadata)
            return Timer.nanos() &- start
        })
        epoch += 1
    }

    /// Waits until every sealed epoch is committed.
    mutating func drain() async throws {
        while !inflight.isEmpty { try await collect(inflight.removeFirst()) }
    }

    private mutating func collect(_ task: Task<UInt64, Error>) async throws {
        commitLatency.record(nanos: try await task.value)
        epochsCommitted += 1
    }
}
