/// The order `ViewSink.rows(view:)` returns rows in, so that a sink's content
/// and a view's can be compared as arrays: lexicographic by fields, and each
/// field by its UTF-8 bytes (not by `String`'s Unicode-aware `<`, which
/// considers canonically equivalent strings equal and so is not a total order
/// on bytes). Integers are compared as their text: "10" sorts before "9".
public enum SinkRowOrder {
    /// Whether row `a` sorts before row `b`.
    public static func precedes(_ a: [String], _ b: [String]) -> Bool {
        a.lexicographicallyPrecedes(b) { x, y in x.utf8.lexicographicallyPrecedes(y.utf8) }
    }

    /// `rows` in sink order.
    public static func sorted(_ rows: [[String]]) -> [[String]] {
        rows.sorted(by: precedes)
    }
}
