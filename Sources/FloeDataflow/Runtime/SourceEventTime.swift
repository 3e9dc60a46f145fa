/// A source's event time, as `PipelineBuilder.source(_:eventTime:latenessMicros:)`
/// gives it: the timestamp column that times its rows and how far behind the
/// partition's largest time so far a row may be before it is dropped as late.
struct SourceEventTime: Sendable, Hashable {
    /// The column (a timestamp) in the source's schema.
    var column: Int
    /// Allowed lateness in microseconds (not negative).
    var latenessMicros: Int64
}
