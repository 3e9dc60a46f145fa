import Floe

/// `CheckpointPipeline` with the bench's bookkeeping: every epoch's commit
/// latency (seal to the return of commit) goes into a histogram.
struct EpochPipeline {
    private var pipe: CheckpointPipeline
    /// The epoch being written: pass it to `put`.
    var epoch: Epoch { pipe.epoch }
    /// Seal-to-commit latency of every epoch collected so far.
    private(set) var commitLatency = LatencyHistogram()
    private(set) var epochsCommitted = 0

    init(db: StateStore, depth: Int) throws {
        pipe = try CheckpointPipeline(store: db, depth: depth)
    }

    /// Seals the current epoch and hands it to the pipeline.
    mutating func endEpoch(metadata: [String: [UInt8]] = [:]) async throws {
        if let done = try await pipe.endEpoch(metadata: metadata) { record(done) }
    }

    /// Waits until every sealed epoch is committed.
    mutating func drain() async throws {
        for done in try await pipe.drain() { record(done) }
    }

    private mutating func record(_ done: CheckpointPipeline.Completed) {
        commitLatency.record(nanos: done.latencyNanos)
        epochsCommitted += 1
    }
}
