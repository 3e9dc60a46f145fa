import Floe
import Synchronization

/// Feeds every committed epoch's changes of every view to the sinks, in epoch
/// order, from the sink log in the store, and removes from the sink log what every
/// sink holds.
///
/// Exactly once: a sink records the last epoch it holds in the same transaction
/// (or atomic file) as the epoch's changes and skips epochs at or below it, and
/// the sink log keeps an epoch's changes until every sink has it. So after a crash
/// anywhere, `catchUp` delivers exactly the committed epochs a sink lacks.
///
/// Safe to share: mutable state is under `state`.
final class SinkDelivery: Sendable {
    private struct State {
        var delivered: Epoch = 0
        var pendingDeletes: [[UInt8]] = []
    }

    let store: StateStore
    let sinks: [any ViewSink]
    let views: [ViewDefinition]
    private let state = Lock(State())

    /// Throws `invalidArgument` when a sink holds less than the store recorded as
    /// delivered to every sink (the sink lost epochs, or it was not attached from
    /// the pipeline's first epoch).
    init(store: StateStore, sinks: [any ViewSink], views: [ViewDefinition], committedMetadata: [String: [UInt8]]) async throws {
        self.store = store
        self.sinks = sinks
        self.views = views
        guard !sinks.isEmpty else { return }
        var lowest = Epoch.max
        for s in sinks {
            for v in views { lowest = min(lowest, try s.deliveredEpoch(view: v.name)) }
        }
        let committed = store.committedEpoch
        if lowest > committed {
            throw DataflowError.invalidArgument("a sink holds epoch \(lowest), beyond the store's committed epoch \(committed): it belongs to another store")
        }
        if let b = committedMetadata[PipelineMetadata.sinksKey], b.count == 8 {
            let recorded = b.withUnsafeBytes { UInt64(bitPattern: RowCodec.readInt($0, 0)) }
            if lowest < recorded {
                throw DataflowError.invalidArgument("a sink holds only epoch \(lowest) but every sink had epoch \(recorded) when it was committed: the sink lost epochs or was not attached from the start")
            }
        } else if committed > 0 && lowest < committed {
            throw DataflowError.invalidArgument("the store's pipeline ran without sinks up to epoch \(committed): attach sinks from a pipeline's first epoch")
        }
        state.withLock { $0.delivered = lowest }
    }

    /// Delivers every committed epoch up to `committed` that some sink lacks, and
    /// marks the sink log entries of delivered epochs for removal.
    func catchUp(through committed: Epoch) async throws -> Int {
        guard !sinks.isEmpty else { return 0 }
        let delivered = state.withLock { $0.delivered }
        // Entries of epochs every sink already holds (a crash came before their removal committed).
        var stale: [[UInt8]] = []
        for v in views {
            let rows = try await store.scan(SinkLog.table, from: SinkLog.prefix(view: v.index, epoch: nil),
                                            to: SinkLog.prefix(view: v.index, epoch: delivered + 1), epoch: committed)
            try await rows.forEachRow { k, _ in
                stale.append(Array(k))
                return true
            }
        }
        state.withLock { $0.pendingDeletes += stale }
        return try await deliver(through: committed)
    }

    /// Delivers the epochs after the last delivered one up to `epoch` (committed).
    func deliver(through epoch: Epoch) async throws -> Int {
        guard !sinks.isEmpty else { return 0 }
        var count = 0
        var e = state.withLock { $0.delivered } + 1
        guard e <= epoch else { return 0 }
        // Pinned: later commits must not move the read epoch out of the retained window.
        let snapshot = try pinnedCommittedSnapshot()
        defer { snapshot.release() }
        while e <= epoch {
            var keys: [[UInt8]] = []
            for v in views {
                var chunk = Chunk(types: v.schema.types)
                let columns = Array(v.schema.types.indices)
                let rows = snapshot.scan(SinkLog.table, from: SinkLog.prefix(view: v.index, epoch: e), to: SinkLog.prefix(view: v.index, epoch: e + 1))
                try await rows.forEachRow { k, value in
                    guard value.count >= 1, let op = ChangeOp(rawValue: value[0]) else {
                        throw DataflowError.invalidArgument("sink log entry of view \(v.name) epoch \(e) is malformed")
                    }
                    try RowCodec.decode(UnsafeRawBufferPointer(rebasing: value[1...]), types: v.schema.types, into: &chunk, columns: columns, op: op)
                    keys.append(Array(k))
                    return true
                }
                for s in sinks {
                    try s.deliver(view: v.name, epoch: e, changes: chunk)
                    count += 1
                }
            }
            state.withLock { s in
                s.delivered = e
                s.pendingDeletes += keys
            }
            e += 1
        }
        return count
    }

    /// A snapshot of the newest committed epoch (which a concurrent commit may
    /// push out of the retained window between reading it and pinning it: then again).
    private func pinnedCommittedSnapshot() throws -> Snapshot {
        while true {
            do {
                return try store.snapshot(epoch: store.committedEpoch)
            } catch FloeError.epochNotRetained {
                continue
            }
        }
    }

    /// Before epoch `epoch` is sealed: writes the removal of the delivered entries
    /// at that epoch and records the delivered epoch in its metadata.
    func prepareCommit(epoch: Epoch, metadata: inout [String: [UInt8]]) throws {
        guard !sinks.isEmpty else { return }
        let (delivered, deletes) = state.withLock { s in
            defer { s.pendingDeletes.removeAll() }
            return (s.delivered, s.pendingDeletes)
        }
        if !deletes.isEmpty {
            var batch = WriteBatch()
            for k in deletes { batch.delete(SinkLog.table, key: k) }
            try store.write(batch, epoch: epoch)
        }
        var b: [UInt8] = []
        RowCodec.appendInt(&b, Int64(bitPattern: delivered))
        metadata[PipelineMetadata.sinksKey] = b
    }
}
