/// Where a partitioned log keeps its objects (docs/format.md §12):
///
/// - `<topic>/topic.meta`: the topic's partition count and column names (`LogTopic`);
/// - `<topic>/<partition>/<first offset>.seg`: the segments of a partition, the
///   partition as 4 decimal digits and the first offset as 20, zero-padded, so
///   listing a partition's directory returns its segments in offset order.
///
/// Topic names are 1 to 200 of `A-Z a-z 0-9 _ - .`, not starting with `.`
/// (an object path component that is never `.` or `..` and never hidden).
public enum LogLayout {
    /// The most partitions a topic may have (the partition is 4 digits in a path).
    public static let maxPartitions = 9999

    /// Throws `DataflowError.invalidArgument` unless `topic` is a valid topic name.
    public static func validate(topic: String) throws {
        let bytes = Array(topic.utf8)
        guard !bytes.isEmpty, bytes.count <= 200, bytes[0] != UInt8(ascii: ".") else {
            throw DataflowError.invalidArgument("topic name \"\(topic)\" must be 1 to 200 characters and not start with \".\"")
        }
        for b in bytes {
            let ok = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
            guard ok else {
                throw DataflowError.invalidArgument("topic name \"\(topic)\" may only hold letters, digits, \"_\", \"-\" and \".\"")
            }
        }
    }

    /// Throws `DataflowError.invalidArgument` unless `partitions` is in 1...9999.
    public static func validate(partitions: Int) throws {
        guard (1...maxPartitions).contains(partitions) else {
            throw DataflowError.invalidArgument("a topic has 1 to \(maxPartitions) partitions, not \(partitions)")
        }
    }

    /// `<topic>/topic.meta`.
    public static func metaPath(topic: String) -> String { topic + "/topic.meta" }

    /// `<topic>/<partition, 4 digits>/`: the list prefix of a partition's segments.
    public static func partitionPrefix(topic: String, partition: Int) -> String {
        topic + "/" + padded(UInt64(partition), 4) + "/"
    }

    /// `<topic>/<partition, 4 digits>/<first offset, 20 digits>.seg`.
    public static func segmentPath(topic: String, partition: Int, firstOffset: UInt64) -> String {
        partitionPrefix(topic: topic, partition: partition) + padded(firstOffset, 20) + ".seg"
    }

    /// The first offset a segment path names (the path's last component is
    /// exactly 20 digits and `.seg`), or nil for any other object.
    public static func firstOffset(ofSegmentPath path: String) -> UInt64? {
        let name = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).last ?? []
        guard name.count == 24, name.suffix(4).elementsEqual(".seg".utf8) else { return nil }
        var v: UInt64 = 0
        for b in name.prefix(20) {
            let d = b &- 48
            guard d < 10 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(d))
            guard !o1, !o2 else { return nil }
            v = a
        }
        return v
    }

    static func padded(_ v: UInt64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
