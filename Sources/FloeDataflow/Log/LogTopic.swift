import CXXHash

/// A topic of a partitioned log: its name, partition count and column names,
/// as stored once in `<topic>/topic.meta` (docs/format.md §12.2).
///
/// Invariants: the name is valid (`LogLayout.validate(topic:)`), the partition
/// count is in 1...9999, there is at least one column and the names are
/// non-empty and distinct. A topic never changes after it is created.
public struct LogTopic: Sendable, Hashable {
    public let name: String
    public let partitions: Int
    public let columns: [String]

    /// Throws `DataflowError.invalidArgument` when a value breaks the invariants.
    public init(name: String, partitions: Int, columns: [String]) throws {
        try LogLayout.validate(topic: name)
        try LogLayout.validate(partitions: partitions)
        guard !columns.isEmpty else { throw DataflowError.invalidArgument("topic \(name) needs at least one column") }
        var seen = Set<String>()
        for c in columns {
            guard !c.isEmpty else { throw DataflowError.invalidArgument("topic \(name) has an empty column name") }
            guard seen.insert(c).inserted else { throw DataflowError.invalidArgument("topic \(name) names column \"\(c)\" twice") }
        }
        self.name = name
        self.partitions = partitions
        self.columns = columns
    }

    /// Throws `DataflowError.invalidArgument` naming both shapes unless this topic
    /// has exactly `partitions` partitions and the columns `columns`, in order.
    public func requireMatch(partitions: Int, columns: [String]) throws {
        guard self.partitions == partitions, self.columns == columns else {
            throw DataflowError.invalidArgument("topic \(name) exists with \(self.partitions) partitions and columns "
                + "\(self.columns.joined(separator: ",")); this needs \(partitions) partitions and columns \(columns.joined(separator: ","))")
        }
    }

    /// `"FLTM"` read as a little-endian u32.
    static let magic: UInt32 = 0x4D54_4C46
    static let formatVersion: UInt16 = 1

    /// The bytes of `topic.meta`.
    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        LittleEndian.append(&out, Self.magic)
        LittleEndian.append(&out, Self.formatVersion)
        LittleEndian.append(&out, UInt32(partitions))
        LittleEndian.append(&out, UInt32(columns.count))
        for c in columns {
            let bytes = Array(c.utf8)
            LittleEndian.append(&out, UInt32(bytes.count))
            out.append(contentsOf: bytes)
        }
        let sum = out.withUnsafeBytes { floe_xxh3_64($0.baseAddress, $0.count) }
        LittleEndian.append(&out, UInt64(sum))
        return out
    }

    /// Reads `topic.meta` of topic `name` stored at `object`.
    /// Throws `DataflowError.damagedLog` naming the object and the byte offset of
    /// the first bad field (a failed checksum is reported at the checksum).
    init(decoding bytes: [UInt8], name: String, object: String) throws {
        func damaged(_ at: Int, _ reason: String) -> DataflowError { .damagedLog(object: object, offset: at, reason: reason) }
        guard bytes.count >= 22 else { throw damaged(bytes.count, "topic metadata is \(bytes.count) bytes, shorter than its fixed fields (22)") }
        let (partitions, names) = try bytes.withUnsafeBytes { p throws -> (Int, [String]) in
            let end = p.count - 8
            let sum = floe_xxh3_64(p.baseAddress, end)
            guard LittleEndian.u64(p, end) == UInt64(sum) else { throw damaged(end, "checksum mismatch") }
            guard LittleEndian.u32(p, 0) == Self.magic else { throw damaged(0, "not a topic metadata object (bad magic)") }
            let version = LittleEndian.u16(p, 4)
            guard version == Self.formatVersion else {
                throw damaged(4, "format version \(version) is not supported (this reader reads \(Self.formatVersion))")
            }
            let partitions = Int(LittleEndian.u32(p, 6))
            let count = Int(LittleEndian.u32(p, 10))
            var at = 14
            var names: [String] = []
            for i in 0..<count {
                guard at + 4 <= end else { throw damaged(at, "column \(i) of \(count) runs past the end") }
                let n = Int(LittleEndian.u32(p, at))
                guard n <= end - at - 4 else { throw damaged(at, "column \(i) of \(count) runs past the end") }
                guard let s = String(validating: UnsafeRawBufferPointer(rebasing: p[(at + 4)..<(at + 4 + n)]), as: UTF8.self) else {
                    throw damaged(at + 4, "column \(i) is not UTF-8")
                }
                names.append(s)
                at += 4 + n
            }
            guard at == end else { throw damaged(at, "\(end - at) trailing bytes") }
            return (partitions, names)
        }
        do {
            try self.init(name: name, partitions: partitions, columns: names)
        } catch let DataflowError.invalidArgument(why) {
            throw damaged(6, why)
        }
    }
}
