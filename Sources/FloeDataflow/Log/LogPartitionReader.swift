import Floe

/// Reads the records of one log partition in offset order, from any offset
/// (docs/format.md §12.5 states the rules it applies).
///
/// It reads each segment object in large ranges (`rangeBytes`, or a whole record
/// when one is larger) and verifies every record's checksum before handing it
/// out. When it has read everything it lists the partition again, so segments
/// appended meanwhile (by this process or another) become visible.
///
/// Torn tails: the last segment of the partition may end in a torn record (a
/// crash while a store without atomic writes wrote it): one cut short by the end
/// of an object shorter than its header states, or the object's last record
/// failing its checksum. The reader stops before it and reports caught-up. Once an appender
/// has continued after such a segment, the torn record is skipped: the next
/// segment starts at the torn record's offset. Everything else that does not
/// match the format, including a torn record anywhere but the end of a segment,
/// is `DataflowError.damagedLog` naming the segment object and the byte offset.
///
/// Owned by one task (a value type; copies read independently).
public struct LogPartitionReader: Sendable {
    public let topic: String
    public let partition: Int
    let store: any ObjectStore
    let prefix: String
    /// The size of the ranged reads.
    let rangeBytes: Int
    /// The partition's segments as last listed, in offset order.
    private var segments: [LogSegmentInfo] = []
    /// The index in `segments` of the segment being read; -1 before the first.
    private var current = -1
    /// The current segment's header, once read (nil while it is shorter than a header).
    private var header: LogSegmentHeader?
    /// The current segment's bytes from object position `bufferStart`.
    private var buffer: [UInt8] = []
    private var bufferStart = 0
    /// The object position of the record at `offset`.
    private var position = 0
    /// The offset of the next record `window`/`readRows` return.
    public private(set) var offset: UInt64 = 0
    /// Records from `position` already verified and buffered: `verifiedCount`
    /// of them, ending at object position `verifiedEnd`.
    private var verifiedEnd = 0
    private var verifiedCount = 0

    /// The default size of a ranged read of a segment: 4 MiB.
    public static let defaultRangeBytes = 4 << 20

    /// A reader of `topic`'s `partition` whose next record is the one at `offset`.
    /// Throws `DataflowError.invalidArgument` when `offset` is past the partition's
    /// end, `damagedLog` for a segment that does not read, and store errors as they come.
    init(store: any ObjectStore, topic: String, partition: Int, from target: UInt64, rangeBytes: Int = defaultRangeBytes) async throws {
        self.store = store
        self.topic = topic
        self.partition = partition
        self.prefix = LogLayout.partitionPrefix(topic: topic, partition: partition)
        self.rangeBytes = max(rangeBytes, 64)
        segments = try await listSegments()
        guard target > 0 else { return }
        guard !segments.isEmpty else {
            throw DataflowError.invalidArgument("offset \(target) is past the end (0) of topic \(topic) partition \(partition)")
        }
        // Start in the segment that holds `target` and skip the records before it.
        let i = segments.lastIndex(where: { $0.firstOffset <= target }) ?? 0
        try await enter(i)
        while offset < target {
            let w = try await window(max: Int(clamping: target - offset))
            guard w.count > 0 else {
                throw DataflowError.invalidArgument("offset \(target) is past the end (\(offset)) of topic \(topic) partition \(partition)")
            }
            try skip(w)
        }
    }

    private func listSegments() async throws -> [LogSegmentInfo] {
        LogSegmentInfo.segments(in: try await store.list(prefix: prefix), prefix: prefix)
    }

    private func damaged(_ object: String, _ at: Int, _ reason: String) -> DataflowError {
        .damagedLog(object: object, offset: at, reason: reason)
    }

    /// Moves to segment `i`, which must start where the reader is (or at 0 for the first).
    private mutating func enter(_ i: Int) async throws {
        let seg = segments[i]
        if i == 0 && seg.firstOffset != 0 {
            throw damaged(seg.path, 0, "the first segment of the partition starts at offset \(seg.firstOffset), not 0")
        }
        current = i
        offset = seg.firstOffset
        header = nil
        buffer = []
        bufferStart = 0
        position = LogSegmentHeader.size
        verifiedEnd = position
        verifiedCount = 0
        try await loadHeader()
    }

    /// Reads the current segment's header if the object is long enough to hold one.
    private mutating func loadHeader() async throws {
        let seg = segments[current]
        guard header == nil, seg.size >= LogSegmentHeader.size else { return }
        try await ensure(from: 0, through: LogSegmentHeader.size, objectSize: seg.size)
        let h = try buffer.withUnsafeBytes { p in
            try LogSegmentHeader(decoding: UnsafeRawBufferPointer(rebasing: p[0..<LogSegmentHeader.size]),
                                 object: seg.path, expectedFirstOffset: seg.firstOffset)
        }
        if seg.size > h.objectSize {
            throw damaged(seg.path, h.objectSize, "\(seg.size - h.objectSize) bytes after the end the segment header states")
        }
        header = h
    }

    /// Makes the buffer hold object positions `from..<through` (through <= objectSize),
    /// reading at least `rangeBytes` when it reads.
    private mutating func ensure(from: Int, through: Int, objectSize: Int) async throws {
        if from >= bufferStart && through <= bufferStart + buffer.count { return }
        let upper = min(objectSize, max(through, from + rangeBytes))
        buffer = try await store.get(segments[current].path, range: from..<upper)
        bufferStart = from
    }

    /// Up to `max` whole, verified records from `offset` on (fewer at a segment's
    /// end); none when the reader is caught up with the partition. Does not
    /// advance: `consume` the records taken.
    mutating func window(max: Int) async throws -> LogRecordWindow {
        while verifiedCount == 0 {
            guard try await verifyMore(max: Swift.max(max, 1)) else { break }
        }
        return LogRecordWindow(bytes: buffer, start: position - bufferStart, end: verifiedEnd - bufferStart,
                               count: verifiedCount, firstOffset: offset,
                               object: current >= 0 ? segments[current].path : prefix, objectStart: bufferStart)
    }

    /// Advances past the first `count` records of `window` (the last of which ends
    /// at `window.bytes` index `end`).
    mutating func consume(_ count: Int, endingAt end: Int, of window: LogRecordWindow) {
        precondition(count <= verifiedCount && window.objectStart == bufferStart && window.firstOffset == offset)
        position = bufferStart + end
        offset += UInt64(count)
        verifiedCount -= count
        if verifiedCount == 0 { verifiedEnd = position }
    }

    /// Advances past the whole window.
    private mutating func skip(_ w: LogRecordWindow) throws {
        consume(w.count, endingAt: w.end, of: w)
    }

    /// Verifies at least one more record after `offset` (up to `max`), moving to
    /// the next segment when the current one is done. Returns false when there is
    /// nothing more to read now (caught up, after listing the partition again).
    private mutating func verifyMore(max: Int) async throws -> Bool {
        if current < 0 {
            if segments.isEmpty {
                guard try await relist() else { return false }
            }
            try await enter(0)
        }
        let seg = segments[current]
        let next: UInt64? = current + 1 < segments.count ? segments[current + 1].firstOffset : nil
        guard let header else {
            // Shorter than a header: a torn write of the last segment, which holds no record.
            guard next == nil else { throw damaged(seg.path, seg.size, "segment of \(seg.size) bytes is shorter than its header") }
            return try await relist()
        }
        if let next, offset == next {
            try await checkRemainder(of: seg)
            try await enter(current + 1)
            return true
        }
        let index = offset - header.firstOffset
        if index == header.recordCount {
            guard position == header.objectSize else {
                throw damaged(seg.path, position, "the segment's \(header.recordCount) records end at byte \(position), "
                    + "but its header says the object is \(header.objectSize) bytes")
            }
            if let next {
                throw damaged(seg.path, position, "the segment ends at offset \(offset) but the next segment starts at offset \(next)")
            }
            return try await relist()
        }
        // Verify records in the buffer, reading more when not even one is there.
        var limit = UInt64(max)
        limit = Swift.min(limit, header.recordCount - index)
        if let next { limit = Swift.min(limit, next - offset) }
        var at = verifiedEnd
        var found = 0
        scan: while UInt64(found) < limit {
            let frame = buffer.withUnsafeBytes {
                LogRecordFrame.examine($0, bufferStart: bufferStart, at: at, objectSize: seg.size)
            }
            switch frame {
            case let .whole(end):
                at = end
                found += 1
            case let .needMore(end):
                if found > 0 { break scan }
                try await ensure(from: at, through: end, objectSize: seg.size)
            case .cut:
                if found > 0 { break scan }
                // In an object of the size its header states, a record running past the end has a damaged length.
                guard seg.size < header.objectSize else {
                    throw damaged(seg.path, at, "record at offset \(offset) runs past the end of the object (damaged length)")
                }
                return try await torn(seg, at: at, next: next, reason: "record cut short by the end of the object")
            case let .badChecksum(end):
                if found > 0 { break scan }
                if end == seg.size {
                    return try await torn(seg, at: at, next: next, reason: "the object's last record fails its checksum")
                }
                throw damaged(seg.path, at, "record at offset \(offset) fails its checksum")
            }
        }
        verifiedEnd = at
        verifiedCount = found
        return true
    }

    /// The record at `at` (the next one wanted) is the torn end of the object:
    /// fine for the last segment (caught up), damage for any other.
    private mutating func torn(_ seg: LogSegmentInfo, at: Int, next: UInt64?, reason: String) async throws -> Bool {
        if let next {
            throw damaged(seg.path, at, "\(reason) at offset \(offset), before the next segment's first offset \(next)")
        }
        return try await relist()
    }

    /// The reader has every record of a segment that the next segment does not
    /// start after: what is left of the object must be nothing, or one torn
    /// record (the appender continued after a torn tail).
    private mutating func checkRemainder(of seg: LogSegmentInfo) async throws {
        let at = position
        while at < seg.size {
            let frame = buffer.withUnsafeBytes {
                LogRecordFrame.examine($0, bufferStart: bufferStart, at: at, objectSize: seg.size)
            }
            switch frame {
            case let .needMore(end):
                try await ensure(from: at, through: end, objectSize: seg.size)
            case .cut where seg.size < (header?.objectSize ?? 0):
                return
            case .cut:
                throw damaged(seg.path, at, "record at offset \(offset) runs past the end of the object (damaged length)")
            case let .badChecksum(end) where end == seg.size:
                return
            case .badChecksum:
                throw damaged(seg.path, at, "record at offset \(offset) fails its checksum")
            case .whole:
                throw damaged(seg.path, at, "the segment holds a record at offset \(offset), where the next segment starts")
            }
        }
    }

    /// Lists the partition again. Returns true when there is something new to
    /// read: a segment after the current one, or the current one grew.
    private mutating func relist() async throws -> Bool {
        let fresh = try await listSegments()
        guard current >= 0 else {
            segments = fresh
            return !fresh.isEmpty
        }
        let seg = segments[current]
        guard let i = fresh.firstIndex(where: { $0.path == seg.path }) else {
            throw damaged(seg.path, 0, "the segment disappeared while being read")
        }
        let grew = fresh[i].size != seg.size
        let more = i + 1 < fresh.count
        segments = fresh
        current = i
        if grew {
            // A store without atomic writes was still writing it: read again what was torn.
            buffer = []
            bufferStart = position
            if header == nil { try await loadHeader() }
        }
        return grew || more
    }

    /// Reads up to `max` records as their fields (allocating per field: for tools
    /// and tests, not for pipelines). Empty when caught up.
    public mutating func readRows(max: Int) async throws -> [[[UInt8]]] {
        let w = try await window(max: max)
        let count = Swift.min(w.count, Swift.max(max, 0))
        var rows: [[[UInt8]]] = []
        var at = w.start
        try w.bytes.withUnsafeBytes { p in
            for _ in 0..<count {
                let length = Int(LittleEndian.u32(p, at))
                var f = at + 12
                let end = f + length
                var fields: [[UInt8]] = []
                while f < end {
                    guard end - f >= 4, Int(LittleEndian.u32(p, f)) <= end - f - 4 else {
                        throw damaged(w.object, w.objectStart + at, "record fields run past the record's end")
                    }
                    let n = Int(LittleEndian.u32(p, f))
                    fields.append(Array(p[(f + 4)..<(f + 4 + n)]))
                    f += 4 + n
                }
                rows.append(fields)
                at = end
            }
        }
        consume(count, endingAt: at, of: w)
        return rows
    }
}
