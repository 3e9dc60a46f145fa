/// Where a stream's columns stand with respect to its source's event time: the
/// column that still carries it unchanged, and the window starts computed from it
/// (with their window sizes). The builder keeps one per stream, so that an
/// aggregation grouped by such a window start knows the watermark closes its
/// windows (`WindowCleaning`).
///
/// Only streams that come from one source with an event-time column through
/// stateless transforms (project, filter, tumble, hop) have a lineage. Past an
/// aggregation or a join there is none: a join matches new rows with old ones of
/// the other side, so its output may carry any old time, and the watermark bounds
/// nothing there.
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

    /// The lineage after a window transform over `time` that appended its window
    /// start as column `start`: a window start only if `time` is the event time.
    func windowed(time: Int, start: Int, sizeMicros: Int64) -> EventTimeLineage {
        var out = self
        if time == eventTime { out.windowStarts[start] = sizeMicros }
        return out
    }
}
