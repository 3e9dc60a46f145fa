import Floe

/// Replay verification: runs a pipeline again over the input its recorded epochs
/// consumed, with the recorded epoch boundaries (`BarrierPlan` from the lineage
/// records), into a scratch store holding the state of the starting epoch, and
/// compares every view's digest at the end of every epoch with the recorded one.
///
/// A pipeline whose views are a function of its input alone passes at any
/// parallelism; one whose output depends on time, randomness or the arrival order
/// across partitions fails at the first epoch where that made a difference.
public enum ReplayVerifier {
    /// Replays the epochs of `recorded` after `scratch`'s committed epoch (the
    /// start; 0 for an empty store) through `recorded`'s committed epoch into
    /// `scratch`, running `builder`'s pipeline (the one that wrote `recorded`) with
    /// `options` (its parallelism may differ; its sinks, barrier plan and stop
    /// settings are replaced). After the replay, the rows of every view of
    /// `recorded` at its committed epoch are checked against their recorded digest.
    ///
    /// Throws `invalidArgument` when `recorded` was written by another pipeline (its
    /// committed plan fingerprint differs), an epoch to replay has no lineage record (it
    /// was committed before lineage was recorded), its digests are incomplete, the
    /// scratch store is not a state of `recorded` (its positions or digests differ
    /// from the record of its epoch), or a source partition holds fewer rows than
    /// the recorded epochs read (checked before the replay, which would otherwise
    /// wait for them); and the run's errors. A difference is not an error: it is reported.
    ///
    /// The replay runs `epochsPerRun` epochs at a time (a pipeline run each, which
    /// also restarts the replay from its committed state) and stops after the run
    /// holding the first difference.
    public static func verify(recorded: StateStore, scratch: StateStore, builder: PipelineBuilder,
                              options: PipelineOptions = .init(), epochsPerRun: Int = 64) async throws -> ReplayVerification {
        guard epochsPerRun >= 1 else { throw DataflowError.invalidArgument("epochs per run must be at least 1, not \(epochsPerRun)") }
        var result = ReplayVerification()
        let from = scratch.committedEpoch, to = recorded.committedEpoch
        result.fromEpoch = from
        result.toEpoch = to
        guard from <= to else {
            throw DataflowError.invalidArgument("the scratch store is at epoch \(from), past the recorded store's committed epoch \(to)")
        }
        let plan = try PhysicalPlan(builder, parallelism: options.parallelism)
        if let written = recorded.committedMetadata[PipelineMetadata.planKey], written != Array(plan.fingerprint.utf8) {
            throw DataflowError.invalidArgument("the recorded store was written by a different pipeline (its committed plan is not this one: "
                + "another query, lateness or source?)")
        }
        let records = try await EpochLineage.all(store: recorded, at: to).filter { $0.epoch > from }
        for (i, e) in (from..<to).map({ $0 + 1 }).enumerated() {
            guard i < records.count, records[i].epoch == e else {
                throw DataflowError.invalidArgument("epoch \(e) of the recorded store has no lineage record (committed before lineage was recorded?)")
            }
            guard records[i].digestsComplete else {
                throw DataflowError.invalidArgument("the view digests of epoch \(e) are incomplete: the run that wrote it started "
                    + "on epochs without lineage; verify from a later checkpoint")
            }
        }
        result.rowsReplayed = records.reduce(0) { $0 + $1.consumed }
        try await checkStart(scratch: scratch, recorded: recorded, from: from, first: records.first, sources: plan.sources.map(\.name))
        if let last = records.last {
            // A source that lacks recorded input would make the replay wait for it forever.
            for src in plan.sources {
                guard let ends = last.sources.first(where: { $0.source == src.name })?.end else { continue }
                let held = try await src.source.endOffsets()
                for (p, end) in ends.enumerated() where p >= held.count || held[p] < end {
                    throw DataflowError.invalidArgument("source \(src.name) partition \(p) holds \(p < held.count ? "\(held[p])" : "no") rows, "
                        + "but epoch \(last.epoch) read up to offset \(end)")
                }
            }
        }
        // In runs of `epochsPerRun` epochs, compared after each: a difference stops the replay early.
        var opts = options
        opts.sinks = []
        opts.untilEnd = false
        opts.maxEpochs = nil
        for start in stride(from: 0, to: records.count, by: epochsPerRun) {
            let batch = Array(records[start..<min(records.count, start + epochsPerRun)])
            opts.barrierPlan = try BarrierPlan(records: batch, sources: plan.sources.map(\.name))
            _ = try await Pipeline(store: scratch, builder: builder, options: opts).run()
            for r in batch {
                guard let replay = try await EpochLineage.read(store: scratch, epoch: r.epoch) else {
                    throw DataflowError.invalidArgument("the replay committed no lineage record for epoch \(r.epoch)")
                }
                let names = Set(r.views.keys).union(replay.views.keys).sorted()
                let diffs = names.filter { r.views[$0] != replay.views[$0] }.map {
                    ReplayVerification.Difference(epoch: r.epoch, view: $0, kind: .replay, recorded: r.views[$0], found: replay.views[$0])
                }
                if !diffs.isEmpty {
                    result.differences = diffs
                    return result
                }
            }
        }
        // The recorded store's rows against its recorded digests, at its committed epoch.
        var last = records.last
        if last == nil, from > 0 { last = try await EpochLineage.read(store: recorded, epoch: from, at: to) }
        if let last {
            for name in PipelineMetadata.views(in: recorded.committedMetadata) {
                let view = try PipelineMetadata.view(name, in: recorded.committedMetadata)
                let stored = try await ViewDigest.scan(store: recorded, view: view, epoch: to)
                if stored != last.views[name] {
                    result.differences.append(.init(epoch: to, view: name, kind: .contents, recorded: last.views[name], found: stored))
                }
            }
        }
        return result
    }

    /// Checks that the scratch store holds the state of epoch `from` of the
    /// recorded store: its committed positions are where the first replayed epoch
    /// starts, and its digests are the recorded ones of `from`.
    private static func checkStart(scratch: StateStore, recorded: StateStore, from: Epoch, first: EpochLineage?, sources: [String]) async throws {
        guard from > 0 else { return }
        let metadata = scratch.committedMetadata
        if let first {
            for r in first.sources {
                let committed = try metadata[PipelineMetadata.sourceKey(r.source)].map { try PipelineMetadata.decodeOffsets($0, source: r.source) }
                guard committed == r.start else {
                    throw DataflowError.invalidArgument("the scratch store at epoch \(from) has source \(r.source) at offsets "
                        + "\(committed.map { "\($0)" } ?? "none"), but the recorded epoch \(first.epoch) starts at \(r.start)")
                }
            }
        }
        if let mine = try await EpochLineage.read(store: scratch, epoch: from),
           let theirs = try await EpochLineage.read(store: recorded, epoch: from, at: recorded.committedEpoch),
           mine.views != theirs.views {
            throw DataflowError.invalidArgument("the scratch store's view digests at epoch \(from) are not the recorded store's: "
                + "it is not a state of that store")
        }
    }
}
