/// How a `HashJoin` of two windowed inputs cleans the state of closed windows.
///
/// Both sides carry an event-time window start in the same position of their
/// join keys (Nexmark q8: a person and an auction of the same tumbling window;
/// q5 and q7: per-window aggregates joined on the window start), and the builder
/// puts that pair first in both key lists, so the join's state keys (both sides'
/// rows and the per-key row counts) hold the window start right after the
/// virtual node. A window `[s, s + size)` is closed at watermark `W` when
/// `s + size <= W`: every row still to come on either side belongs to a window
/// that holds a time of at least `W` (`Watermark`), so no row of a closed window
/// arrives and none of its rows can match again. The closed windows' rows are
/// then one key range per virtual node, which one table watermark per table
/// hides (`StateStore.setTableWatermark` with the virtual node as prefix).
///
/// `sizeMicros` is the larger of the two sides' window sizes (q7 pairs a 10 s
/// tumbling window with a hop of 10 s + 1 µs): a window is closed only when it
/// is closed on both sides.
///
/// Cleaning removes state only: it emits nothing, so the rows a view already
/// holds stay, and the join's output over the rows that arrive is the same as
/// without cleaning.
public struct JoinWindowCleaning: Sendable, Hashable {
    /// The window length, in microseconds (positive).
    public var sizeMicros: Int64

    public init(sizeMicros: Int64) {
        self.sizeMicros = sizeMicros
    }

    /// The smallest window start still open at `watermark` (every start below it
    /// is closed), or nil when nothing is closed.
    public func firstOpenStart(watermark: Int64) -> Int64? {
        WindowCleaning(groupIndex: 0, sizeMicros: sizeMicros).firstOpenStart(watermark: watermark)
    }

    /// Both sides' key lists with the window-start pair at position `index` moved
    /// first (the other pairs keep their order); the virtual node then hashes the
    /// key fields in that order, as the exchange does.
    public static func keysWithWindowFirst(_ keys: [Int], index: Int) -> [Int] {
        [keys[index]] + keys.indices.filter { $0 != index }.map { keys[$0] }
    }
}
