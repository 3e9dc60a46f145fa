/// Event-time watermarks, in microseconds since 1970 (the unit of timestamp
/// columns).
///
/// A watermark `W` that travels with the barrier of epoch E promises that every
/// row a sender emits after that barrier has an event time of at least `W`. A
/// source partition's watermark is its largest event time so far minus the
/// source's allowed lateness (rows below it are dropped as late, so the promise
/// holds); an instance with several inputs forwards the minimum of its inputs'
/// watermarks at the aligned barrier. Watermarks of one sender never fall.
///
/// `none` (`Int64.min`) promises nothing: a source without an event-time column,
/// or a partition that has not emitted a row yet.
public enum Watermark {
    public static let none: Int64 = .min

    /// `time - lateness`, or `none` when that leaves the 64-bit range (or `time` is
    /// `none`). `lateness` must not be negative.
    @inlinable public static func below(_ time: Int64, by lateness: Int64) -> Int64 {
        let (w, overflow) = time.subtractingReportingOverflow(lateness)
        return overflow ? none : w
    }
}
