import Floe

/// Where a pipeline's materialized views leave the system: an external store
/// that receives each committed epoch's changes of a view, exactly once.
///
/// A view is a multiset of rows with a `Schema`. The changes of epoch E (a
/// `Chunk` of whole-row inserts and deletes; an update is a delete of the old
/// row and an insert of the new one) are delivered only after E is committed
/// in the store. After a crash the runtime re-delivers, in epoch order, every
/// committed epoch after `deliveredEpoch(view:)`; a sink skips epochs it
/// already holds. So whatever crashes happen, once every committed epoch has
/// been offered, `rows(view:)` equals the view.
///
/// Invariants every implementation keeps:
/// - **Atomic epochs.** An epoch's changes and the record that the epoch is
///   delivered become visible (and durable) together: after a crash at any
///   point the sink holds the view as of exactly `deliveredEpoch(view:)`.
/// - **Exactly once.** `deliver` of an epoch `<= deliveredEpoch(view:)` does
///   nothing (whatever the chunk holds), so re-delivery is safe.
/// - **Net effect.** An epoch's changes are applied as their net effect per
///   distinct row (a row inserted and deleted in one epoch cancels out), so the
///   order of changes inside a chunk does not matter. A row whose net count in
///   the epoch is negative must be held at least that many times.
/// - **Durable.** When `deliver` returns, the epoch survives a crash of the
///   process or the machine.
///
/// Views are registered when the sink is created, each with its name and
/// schema. Errors are `DataflowError.sink`, naming the sink's file or
/// directory and the view; a failed `deliver` applies nothing of its epoch.
/// Implementations serialize their own calls: one sink may be shared by tasks.
public protocol ViewSink: Sendable {
    /// The last epoch whose changes this sink holds for `view` (0 when none),
    /// as the sink's own storage records it.
    /// Throws `DataflowError.sink` for a view not registered or a failed read.
    func deliveredEpoch(view: String) throws -> Epoch

    /// Applies `changes` as the output of `epoch` of `view`, atomically with
    /// recording `epoch` as delivered, and durably. An empty chunk still records
    /// the epoch. Does nothing when `epoch <= deliveredEpoch(view:)`.
    ///
    /// Throws `DataflowError.sink`, having applied nothing of the epoch, when the
    /// view is not registered, `changes` does not have the view's column types,
    /// a deleted row is not held (as often as the epoch deletes it), or the
    /// sink's storage fails.
    func deliver(view: String, epoch: Epoch, changes: Chunk) throws

    /// The sink's current content of `view`: one entry per row (a row held
    /// twice appears twice), each as text fields in `ValueText` form, sorted by
    /// `SinkRowOrder`. Used to compare the sink with the view.
    /// Throws `DataflowError.sink` for a view not registered, a failed read, or
    /// stored content that is not a valid row of the view.
    func rows(view: String) throws -> [[String]]
}
