import Floe

/// Deterministic epoch boundaries for a replay: for each epoch from `firstEpoch`
/// on, the offset of every source partition at which its barrier is injected. With
/// `PipelineOptions.barrierPlan` a run ignores the barrier interval: every
/// partition reads exactly up to its planned end offset of an epoch, injects that
/// epoch's barrier there, and the run stops after `lastEpoch`, so each epoch reads
/// exactly the input the plan says (its recorded lineage).
public struct BarrierPlan: Sendable, Equatable {
    public let firstEpoch: Epoch
    /// Per epoch, per source (in the pipeline's source order), per partition: the
    /// offset after the epoch.
    public let ends: [[[UInt64]]]

    public init(firstEpoch: Epoch, ends: [[[UInt64]]]) {
        self.firstEpoch = firstEpoch
        self.ends = ends
    }

    /// The plan of consecutive lineage records (epochs `records[0].epoch`...), with
    /// the sources in the order `sources`. Throws `invalidArgument` when the records
    /// are empty, not consecutive, or lack a source.
    public init(records: [EpochLineage], sources: [String]) throws {
        guard let first = records.first else { throw DataflowError.invalidArgument("a barrier plan needs at least one epoch") }
        var ends: [[[UInt64]]] = []
        for (i, r) in records.enumerated() {
            guard r.epoch == first.epoch + UInt64(i) else {
                throw DataflowError.invalidArgument("lineage records are not consecutive: epoch \(r.epoch) follows \(first.epoch + UInt64(i) - 1)")
            }
            ends.append(try sources.map { name in
                guard let s = r.sources.first(where: { $0.source == name }) else {
                    throw DataflowError.invalidArgument("the lineage of epoch \(r.epoch) has no source \(name)")
                }
                return s.end
            })
        }
        self.init(firstEpoch: first.epoch, ends: ends)
    }

    public var lastEpoch: Epoch { firstEpoch + UInt64(ends.count) - 1 }

    /// The end offset of `partition` of source `source` in `epoch` (within the plan).
    func end(epoch: Epoch, source: Int, partition: Int) -> UInt64 { ends[Int(epoch - firstEpoch)][source][partition] }

    /// Checks the plan against a run that starts at `startEpoch` at `positions`:
    /// the first epoch is the run's, every epoch names every partition, and no end
    /// is behind the one before. Throws `invalidArgument`.
    func validate(startEpoch: Epoch, positions: [[SourcePosition]]) throws {
        guard !ends.isEmpty else { throw DataflowError.invalidArgument("a barrier plan needs at least one epoch") }
        guard firstEpoch == startEpoch else {
            throw DataflowError.invalidArgument("the barrier plan starts at epoch \(firstEpoch) but the store continues at epoch \(startEpoch)")
        }
        var previous = positions.map { $0.map(\.offset) }
        for (i, epoch) in ends.enumerated() {
            guard epoch.count == previous.count, zip(epoch, previous).allSatisfy({ $0.count == $1.count }) else {
                throw DataflowError.invalidArgument("the barrier plan of epoch \(firstEpoch + UInt64(i)) does not name every source partition")
            }
            for (s, parts) in epoch.enumerated() {
                for (p, end) in parts.enumerated() where end < previous[s][p] {
                    throw DataflowError.invalidArgument("the barrier plan of epoch \(firstEpoch + UInt64(i)) ends source \(s) partition \(p) "
                        + "at offset \(end), behind \(previous[s][p])")
                }
            }
            previous = epoch
        }
    }
}
