import CoreMetrics
import Logging

/// How a pipeline runs.
public struct PipelineOptions: Sendable {
    /// Instances of every stateful operator (aggregations, joins). Any value may be
    /// used on any restart: state is keyed by virtual node, not by instance.
    public var parallelism = 1
    /// Time between barriers, in milliseconds (one epoch per barrier).
    public var barrierIntervalMillis = 1000
    /// Rows per chunk between operators.
    public var chunkRows = 1024
    /// Chunks a channel holds before its sender waits.
    public var channelCapacity = 2
    /// Cache of each stateful operator instance (join, aggregation, top-N), in
    /// bytes (approximate): the keys it read or changed recently, in front of the
    /// store. A pipeline holds at most this times its stateful instances. Over it
    /// at a barrier, an instance keeps its most recently touched keys (whole epochs,
    /// newest first) within three quarters of it (`CacheEviction`). Too small for a
    /// join whose two sides meet seconds apart, and every late side reads the other
    /// back from the store: the seeds' order-payment join ran at half its speed
    /// with 64 MiB and as fast as without checkpoints with 256 MiB.
    public var cacheBytes = 256 << 20
    /// Stop once every row the sources held at start is consumed and committed
    /// (and delivered to every sink).
    public var untilEnd = false
    /// Sealed epochs whose upload and commit may be in flight at once.
    public var checkpointDepth = 2
    /// Sinks that receive every committed epoch's changes of every view.
    public var sinks: [any ViewSink] = []
    /// Stop after this many epochs committed by this run (nil: no limit).
    public var maxEpochs: Int?
    /// Called after each epoch this run commits (before its delivery to the sinks).
    public var onCommit: (@Sendable (UInt64) -> Void)?
    /// Where the run logs (swift-log); the default drops everything, and the library
    /// never bootstraps logging. At `debug`: the run's start (restored epoch and
    /// source positions, parallelism), sink catch-up, its end; at `trace`: every
    /// committed epoch. The store logs through its own `StoreOptions.logger`.
    public var logger = Logger.floeDisabled
    /// Where the run's `floe_pipeline_*` metrics go (see `PipelineMetrics` in the
    /// docs: events in and out per operator, barrier and alignment time, epoch commit
    /// latency, restart to first commit). nil: `MetricsSystem.factory` as of `run`.
    public var metricsFactory: (any MetricsFactory)?
    /// Replay: end every epoch at the planned source offsets instead of every
    /// `barrierIntervalMillis`, and stop after the plan's last epoch (`BarrierPlan`;
    /// `maxEpochs` and `untilEnd` are then ignored). nil: barriers on the timer.
    public var barrierPlan: BarrierPlan?

    public init() {}

    func validate() throws {
        guard parallelism >= 1, parallelism <= VirtualNodes.count else {
            throw DataflowError.invalidArgument("parallelism must be in 1...\(VirtualNodes.count), not \(parallelism)")
        }
        guard barrierIntervalMillis >= 1 else { throw DataflowError.invalidArgument("barrier interval must be at least 1 ms") }
        guard chunkRows >= 1, channelCapacity >= 1, checkpointDepth >= 1 else {
            throw DataflowError.invalidArgument("chunk rows, channel capacity and checkpoint depth must be at least 1")
        }
    }
}

/// What a run of a pipeline did.
public struct PipelineReport: Sendable {
    /// The store's committed epoch when the run started, and when it ended.
    public var startEpoch: UInt64 = 0
    public var endEpoch: UInt64 = 0
    /// Rows read from the sources.
    public var eventsIn: Int = 0
    /// Wall time of the run, in seconds.
    public var seconds: Double = 0
    /// From the run's start to its first committed epoch, in seconds (nil: none).
    public var firstCommitSeconds: Double?
    /// Barrier injection to committed epoch, per epoch committed by this run, in milliseconds.
    public var commitLatencyMillis: [Double] = []
    /// Barrier injection to the last instance's acknowledgement (the barrier has
    /// crossed the whole graph; sealing and the commit follow), per epoch of this
    /// run, in milliseconds: the part of `commitLatencyMillis` spent in flight.
    public var barrierLatencyMillis: [Double] = []
    /// Epochs delivered to sinks by this run (counting every sink and view).
    public var deliveries: Int = 0
    /// Per source: the rows dropped as late (`PipelineBuilder.source(_:eventTime:latenessMicros:)`)
    /// before the store's committed epoch at the end of the run, over every run on
    /// the store (the count is committed with the source positions, so a restart
    /// neither loses nor repeats any). 0 for sources without event time.
    public var lateRows: [String: UInt64] = [:]

    /// `lateRows` over all sources.
    public var totalLateRows: UInt64 { lateRows.values.reduce(0, +) }

    /// The `q` quantile (0...1) of the commit latencies.
    public func latencyQuantile(_ q: Double) -> Double? { Self.quantile(commitLatencyMillis, q) }

    /// The `q` quantile (0...1) of the barriers' times in flight.
    public func barrierQuantile(_ q: Double) -> Double? { Self.quantile(barrierLatencyMillis, q) }

    /// The `q` quantile (0...1) of `values`, nearest rank (nil: none).
    public static func quantile(_ values: [Double], _ q: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let s = values.sorted()
        return s[min(s.count - 1, Int((Double(s.count - 1) * q).rounded()))]
    }
}
