import Floe

/// A segment object of a log partition, as a listing of the object store shows it.
public struct LogSegmentInfo: Sendable, Hashable {
    /// The object path, `<topic>/<partition>/<first offset>.seg`.
    public var path: String
    /// The offset of the segment's first record (from its name).
    public var firstOffset: UInt64
    /// The object's size in bytes.
    public var size: Int

    public init(path: String, firstOffset: UInt64, size: Int) {
        self.path = path
        self.firstOffset = firstOffset
        self.size = size
    }

    /// The segments among `objects` (a listing of a partition's prefix), in offset
    /// order. Objects whose name is not `<20 digits>.seg` directly under the
    /// partition are not segments and are left out.
    static func segments(in objects: [ObjectInfo], prefix: String) -> [LogSegmentInfo] {
        var out: [LogSegmentInfo] = []
        for o in objects where o.path.hasPrefix(prefix) && o.path.utf8.count == prefix.utf8.count + 24 {
            if let first = LogLayout.firstOffset(ofSegmentPath: o.path) {
                out.append(LogSegmentInfo(path: o.path, firstOffset: first, size: o.size))
            }
        }
        out.sort { $0.firstOffset < $1.firstOffset }
        return out
    }
}
