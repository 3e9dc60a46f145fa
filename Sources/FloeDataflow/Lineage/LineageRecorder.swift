import Floe

/// Writes every epoch's `EpochLineage` record from the commit loop, into the
/// epoch itself (before it is sealed), so the record commits with the epoch.
///
/// It carries from epoch to epoch the source offsets (the next epoch's `start`)
/// and every view's running digest, to which it adds the epoch's change reported
/// by the `Materialize` instances. Both start from the store's committed epoch: the
/// committed positions, and the digests of the committed epoch's record, so a
/// restart (after a crash too) continues them exactly.
struct LineageRecorder {
    private var table: StateTable
    private let sources: [String]
    private let viewNames: [UInt16: String]
    private var previous: [[UInt64]]
    private var digests: [String: ViewDigest]
    private let complete: Bool

    /// Starts after the committed epoch of `store`, whose positions are `positions`
    /// (per source of `sources`, per partition). Throws the store's read errors and
    /// `invalidArgument` for a malformed committed record.
    init(store: StateStore, sources: [String], views: [ViewDefinition], positions: [[SourcePosition]]) async throws {
        table = StateTable(store: store, table: EpochLineage.table)
        self.sources = sources
        viewNames = Dictionary(uniqueKeysWithValues: views.map { ($0.index, $0.name) })
        previous = positions.map { $0.map(\.offset) }
        var digests = Dictionary(uniqueKeysWithValues: views.map { ($0.name, ViewDigest()) })
        var complete = true
        let committed = store.committedEpoch
        if committed > 0 {
            if let last = try await EpochLineage.read(store: store, epoch: committed) {
                for (name, d) in last.views where digests[name] != nil { digests[name] = d }
                complete = last.digestsComplete
            } else {
                complete = false
            }
        }
        self.digests = digests
        self.complete = complete
    }

    /// Writes the record of `epoch`, which ended at `positions` and changed the
    /// views by `deltas` (by view index), into `epoch`. Throws the store's write errors.
    mutating func record(epoch: Epoch, positions: [[SourcePosition]], deltas: [UInt16: ViewDigest]) async throws {
        for (index, d) in deltas {
            guard let name = viewNames[index] else { continue }
            digests[name, default: ViewDigest()].add(d)
        }
        let end = positions.map { $0.map(\.offset) }
        let ranges = sources.indices.map { EpochLineage.Ranges(source: sources[$0], start: previous[$0], end: end[$0]) }
        let record = EpochLineage(epoch: epoch, sources: ranges, views: digests, digestsComplete: complete)
        table.put(EpochLineage.key(epoch), record.encode())
        try await table.flush(epoch: epoch)
        previous = end
    }
}
