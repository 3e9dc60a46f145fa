/// Where a stream's columns stand with respect to its source's event time: the
/// column that still carries it unchanged, and the window starts computed from it
/// (with their window sizes). The builder keeps one per stream, so that an
/// aggregation grouped by such a window start knows the watermark closes its
/// windows (`WindowCleaning`).
///
/// Streams that come from one source with an event-time column through
/// stateless transforms (project, filter, tumble, hop) have a lineage. Past an
/// aggregation only window starts remain, as group columns: the aggregation emits
/// a change of a group only for rows that reached it after the previous barrier,
/// so after the barrier with watermark W it emits none for a window closed at W.
/// Past a join only the window start paired in both sides' keys remains (the
/// builder's `JoinWindowCleaning`): an output row is made by an arriving row of
/// one side, whose window is open, and both sides agree on the key. The event
/// time itself does not survive either: a join matches new rows with old ones of
/// the other side, so its output may carry any old time.
struct EventTimeLineage: Sendable {
    /// The column holding the source's event time, if the stream kept it.
    var eventTime: Int?
    /// Window-start columns over the event time, with each one's window size in microseconds.
    var windowStarts: [Int: Int64] = [:]

    /// The lineage of a projection that keeps `columns` in that order.
    func projected(_ columns: [Int]) -> EventTimeLineage {
        var out = EventTimeLineage(eventTime: nil)
        for (i, c) in columns.enumerated() {
            if c == eventTime, out.eventTime == nil { out.eventTime = i }
            if let size = windowStarts[c] { out.windowStarts[i] = size }
        }
        return out
    }

    /// The lineage of an aggregation's output grouped by `groupBy` (its group
    /// columns first): the window starts among the group columns, no event time;
    /// nil when there is none.
    func aggregated(groupBy: [Int]) -> EventTimeLineage? {
        var out = EventTimeLineage(eventTime: nil)
        for (i, c) in groupBy.enumerated() { if let size = windowStarts[c] { out.windowStarts[i] = size } }
        return out.windowStarts.isEmpty ? nil : out
    }

    /// The lineage of a top-N's output grouped by `groupBy` (the input's columns):
    /// the window starts among the group columns, no event time (a row that
    /// enters a top may be old); nil when there is none.
    func grouped(by groupBy: [Int]) -> EventTimeLineage? {
        var out = EventTimeLineage(eventTime: nil)
        for c in groupBy { if let size = windowStarts[c] { out.windowStarts[c] = size } }
        return out.windowStarts.isEmpty ? nil : out
    }

    /// The lineage after a window transform over `time` that appended its window
    /// start as column `start`: a window start only if `time` is the event time.
    func windowed(time: Int, start: Int, sizeMicros: Int64) -> EventTimeLineage {
        var out = self
        if time == eventTime { out.windowStarts[start] = sizeMicros }
        return out
    }
}
