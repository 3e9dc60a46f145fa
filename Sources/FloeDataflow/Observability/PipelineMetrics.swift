import CoreMetrics
import Floe

/// The `floe_pipeline_*` metrics of one pipeline run (swift-metrics).
///
/// No metric call per row: operators count the rows of each chunk in plain
/// integers of their fragment instance (one task, no sharing), and the instance
/// adds them to the counters once per epoch, when it ends the epoch; sources do
/// the same per injected barrier.
///
/// - `floe_pipeline_events_in_total`, `floe_pipeline_events_out_total` (counters,
///   `operator` = node number and kind, e.g. `3_aggregate`, `5_view_totals`): rows
///   into and out of each operator, over all its instances.
/// - `floe_pipeline_source_events_total` (counter, `source`): rows read.
/// - `floe_pipeline_barrier_seconds` (timer): a barrier's injection to its
///   acknowledgement by every instance that materializes a view.
/// - `floe_pipeline_alignment_seconds` (timer): in an operator with several inputs,
///   the first input's barrier to the last one's (time an input spent blocked).
/// - `floe_pipeline_epoch_commit_seconds` (timer): injection to committed epoch.
/// - `floe_pipeline_restart_to_first_commit_seconds` (timer): a run's start (a
///   restart reads the committed positions and rewinds) to its first committed epoch.
/// - `floe_pipeline_epochs_committed_total` (counter).
final class PipelineMetrics: Sendable {
    struct OperatorCounters: Sendable {
        let rowsIn: Counter
        let rowsOut: Counter
    }

    let barrierSeconds: CoreMetrics.Timer
    let alignmentSeconds: CoreMetrics.Timer
    let epochCommitSeconds: CoreMetrics.Timer
    let firstCommitSeconds: CoreMetrics.Timer
    let epochsCommitted: Counter
    let sourceEvents: [Counter]
    private let factory: any MetricsFactory

    init(factory: any MetricsFactory, sources: [String]) {
        self.factory = factory
        barrierSeconds = CoreMetrics.Timer(label: "floe_pipeline_barrier_seconds", dimensions: [], factory: factory)
        alignmentSeconds = CoreMetrics.Timer(label: "floe_pipeline_alignment_seconds", dimensions: [], factory: factory)
        epochCommitSeconds = CoreMetrics.Timer(label: "floe_pipeline_epoch_commit_seconds", dimensions: [], factory: factory)
        firstCommitSeconds = CoreMetrics.Timer(label: "floe_pipeline_restart_to_first_commit_seconds", dimensions: [], factory: factory)
        epochsCommitted = Counter(label: "floe_pipeline_epochs_committed_total", dimensions: [], factory: factory)
        sourceEvents = sources.map { Counter(label: "floe_pipeline_source_events_total", dimensions: [("source", $0)], factory: factory) }
    }

    func operatorCounters(_ name: String) -> OperatorCounters {
        let d = [("operator", name)]
        return OperatorCounters(rowsIn: Counter(label: "floe_pipeline_events_in_total", dimensions: d, factory: factory),
                                rowsOut: Counter(label: "floe_pipeline_events_out_total", dimensions: d, factory: factory))
    }
}

extension Duration {
    /// Whole nanoseconds (saturating), for `Timer.recordNanoseconds`.
    var wholeNanoseconds: Int64 {
        let c = components
        let (ns, over) = c.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return over ? .max : ns &+ c.attoseconds / 1_000_000_000
    }
}
