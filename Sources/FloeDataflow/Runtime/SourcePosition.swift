/// Where one source partition stands at a barrier: everything a restarted run
/// needs to continue it exactly as a run without the restart would. Committed per
/// partition with every epoch (`PipelineMetadata`, docs/format.md §14.3).
///
/// Invariants: along one partition's barriers `offset`, `maxEventTime` and
/// `lateRows` never fall; each is a function of the partition's rows before
/// `offset` alone (not of barrier timing), so a recovered run that starts from a
/// committed position drops exactly the rows a failure-free run drops.
public struct SourcePosition: Sendable, Hashable {
    /// Rows of the partition read before the barrier (the next row's offset).
    public var offset: UInt64
    /// The largest event time among the rows read before the barrier;
    /// `Watermark.none` when the source has no event-time column or none was read.
    public var maxEventTime: Int64
    /// Rows read before the barrier that were dropped as late.
    public var lateRows: UInt64

    public init(offset: UInt64 = 0, maxEventTime: Int64 = Watermark.none, lateRows: UInt64 = 0) {
        self.offset = offset
        self.maxEventTime = maxEventTime
        self.lateRows = lateRows
    }
}
