/// How a `HashAggregate` cleans the state of closed event-time windows.
///
/// The aggregation groups by a window start over its source's event time (a
/// column `tumble` or `hop` added), whose windows last `sizeMicros`. A window
/// `[s, s + size)` is closed at watermark `W` when `s + size <= W`: every row still
/// to come has an event time of at least `W` (`Watermark`), so it falls in no such
/// window. The aggregation encodes its state key with that window start first
/// after the virtual node (`keyColumns`), so that the closed windows' groups are a
/// key range of every virtual node, which one table watermark hides
/// (`StateStore.setTableWatermark` with the virtual node as prefix).
public struct WindowCleaning: Sendable, Hashable {
    /// The position of the window start among the aggregation's group columns.
    public var groupIndex: Int
    /// The length of every window, in microseconds (positive).
    public var sizeMicros: Int64

    public init(groupIndex: Int, sizeMicros: Int64) {
        self.groupIndex = groupIndex
        self.sizeMicros = sizeMicros
    }

    /// The state key's columns: the window start, then the other group columns in order.
    public func keyColumns(groupBy: [Int]) -> [Int] {
        [groupBy[groupIndex]] + groupBy.indices.filter { $0 != groupIndex }.map { groupBy[$0] }
    }

    /// The smallest window start still open at `watermark` (`W - size + 1`; every
    /// start below it is closed), or nil when nothing is closed.
    public func firstOpenStart(watermark: Int64) -> Int64? {
        guard watermark != Watermark.none else { return nil }
        let (s, overflow) = watermark.subtractingReportingOverflow(sizeMicros - 1)
        return overflow ? nil : s
    }
}
