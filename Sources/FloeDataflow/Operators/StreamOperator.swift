import Floe

/// One operator of a pipeline, as one instance runs it.
///
/// An instance is driven by one task: `process` for every chunk that arrives in
/// the epoch being built, then `barrier` once every input delivered that epoch's
/// barrier. Everything an operator emits (into `out`, with its `outputTypes`)
/// before its barrier returns belongs to that epoch. A stateful operator writes the
/// epoch's state changes in `barrier` and nothing after it.
///
/// Operators work a chunk at a time: per row they do no async call and no
/// allocation beyond growing their own arrays; state misses are fetched for the
/// whole chunk at once.
public protocol StreamOperator: Sendable {
    var outputTypes: [ColumnType] { get }
    /// `input` is the logical input (0, or 1 for the right side of a join).
    mutating func process(_ chunk: Chunk, input: Int, epoch: Epoch, into out: inout Chunk) async throws
    /// Ends `epoch`: emits what the epoch's input changed (an aggregate's new rows)
    /// and writes the epoch's state.
    mutating func barrier(ending epoch: Epoch, into out: inout Chunk) async throws
    /// The same, with the event-time watermark of the aligned barrier (`Watermark`:
    /// every row this operator receives after it has an event time of at least
    /// `watermark`). Operators that clean state by event time implement this form;
    /// by default it is `barrier(ending:into:)`. The runtime calls this form.
    mutating func barrier(ending epoch: Epoch, watermark: Int64, into out: inout Chunk) async throws
    /// Called once the barrier of `epoch` has left the instance (sent on every
    /// outlet, and acknowledged when the instance holds a view) and before any row
    /// of the next epoch: work that must not delay the barrier's way to its commit,
    /// such as trimming a cache. It must not change state or emit rows. Long work
    /// should yield now and then (`Task.yield`): the instance's thread is one of the
    /// few the commit loop and the store's syncs run on.
    mutating func afterBarrier(_ epoch: Epoch) async
}

extension StreamOperator {
    public mutating func afterBarrier(_ epoch: Epoch) async {}

    public mutating func barrier(ending epoch: Epoch, into out: inout Chunk) async throws {}

    public mutating func barrier(ending epoch: Epoch, watermark: Int64, into out: inout Chunk) async throws {
        try await barrier(ending: epoch, into: &out)
    }
}
