import Floe

/// A partitioned, append-only log (a set of topics, each like a Kafka topic)
/// kept in an `ObjectStore`: a directory through `LocalObjectStore`, or memory.
/// docs/format.md §12 gives every byte; docs/dataflow.md the user's view.
///
/// - A topic has a fixed number of partitions and column names (`LogTopic`).
/// - A partition is a sequence of records; a record's offset is its position in
///   the partition (0, 1, 2, ...), contiguous across the partition's segments.
/// - An append writes one new, immutable segment object per partition it adds
///   to, with `createIfAbsent` at the partition's end offset: of two appenders
///   racing for one end exactly one wins, the other gets
///   `DataflowError.appendConflict` and nothing is overwritten.
/// - Readers (`reader(_:partition:from:)`, `LogSource`) see each segment whole
///   or not at all and verify every record's checksum.
///
/// Errors: `DataflowError.unknown(kind: "topic", ...)` for a topic that does not
/// exist, `invalidArgument` for bad names, partitions and rows,
/// `damagedLog` for objects that do not match the format, `appendConflict`
/// (above); store errors (`FloeError`) pass through.
public struct PartitionedLog: Sendable {
    public let store: any ObjectStore

    public init(store: any ObjectStore) {
        self.store = store
    }

    /// The log in directory `directory` (created if missing when `create`).
    /// Throws `FloeError.notAFloeStore` or `io` as `LocalObjectStore.init`.
    public init(directory: String, create: Bool = true) throws {
        store = try LocalObjectStore(root: directory, create: create)
    }

    // MARK: - Topics

    /// Creates the topic, or returns it if it already exists with exactly these
    /// partitions and columns. Throws `DataflowError.invalidArgument` for bad
    /// values, or when the existing topic differs (naming both).
    @discardableResult
    public func createTopic(_ name: String, partitions: Int, columns: [String]) async throws -> LogTopic {
        let wanted = try LogTopic(name: name, partitions: partitions, columns: columns)
        if try await store.createIfAbsent(LogLayout.metaPath(topic: name), wanted.encoded()) { return wanted }
        let existing = try await topic(name)
        try existing.requireMatch(partitions: partitions, columns: columns)
        return existing
    }

    /// The topic `name`. Throws `DataflowError.unknown(kind: "topic", ...)` listing
    /// the topics there are when it does not exist, `damagedLog` when its
    /// metadata does not read.
    public func topic(_ name: String) async throws -> LogTopic {
        guard let t = try await topicIfExists(name) else {
            throw DataflowError.unknown(kind: "topic", name: name, known: try await topics())
        }
        return t
    }

    /// The topic `name`, or nil when it does not exist.
    public func topicIfExists(_ name: String) async throws -> LogTopic? {
        try LogLayout.validate(topic: name)
        let path = LogLayout.metaPath(topic: name)
        let bytes: [UInt8]
        do {
            bytes = try await store.get(path)
        } catch FloeError.objectNotFound {
            return nil
        }
        return try LogTopic(decoding: bytes, name: name, object: path)
    }

    /// The names of all topics, sorted. Lists the whole store.
    public func topics() async throws -> [String] {
        try await store.list(prefix: "").compactMap { o -> String? in
            let parts = o.path.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == 2 && parts[1] == "topic.meta" ? String(parts[0]) : nil
        }.sorted()
    }

    // MARK: - Segments and end offsets

    /// The segments of `partition` of `topic`, in offset order.
    public func segments(_ topic: String, partition: Int) async throws -> [LogSegmentInfo] {
        let prefix = LogLayout.partitionPrefix(topic: topic, partition: partition)
        return LogSegmentInfo.segments(in: try await store.list(prefix: prefix), prefix: prefix)
    }

    /// The offset after the last whole record of every partition of `topic`
    /// (a torn tail is not counted).
    public func endOffsets(_ topic: String) async throws -> [UInt64] {
        let t = try await self.topic(topic)
        var ends: [UInt64] = []
        for p in 0..<t.partitions { ends.append(try await endOffset(t, partition: p)) }
        return ends
    }

    /// The end offset of one partition: the first offset of its last segment
    /// plus the whole records in it.
    public func endOffset(_ topic: LogTopic, partition: Int) async throws -> UInt64 {
        try check(partition, of: topic)
        guard let last = try await segments(topic.name, partition: partition).last else { return 0 }
        return last.firstOffset + (try await wholeRecords(inLast: last))
    }

    /// The records a reader delivers from `segment` when it is the last of its
    /// partition: its header's count, less a torn tail. Reads the header and the
    /// last record; when the object is shorter than its header says, the whole object.
    /// Throws `damagedLog` for a segment that is damaged before its tail.
    public func wholeRecords(inLast segment: LogSegmentInfo) async throws -> UInt64 {
        let size = segment.size
        guard size >= LogSegmentHeader.size else { return 0 }
        let head = try await store.get(segment.path, range: 0..<LogSegmentHeader.size)
        let header = try head.withUnsafeBytes {
            try LogSegmentHeader(decoding: $0, object: segment.path, expectedFirstOffset: segment.firstOffset)
        }
        if size > header.objectSize {
            throw DataflowError.damagedLog(object: segment.path, offset: header.objectSize,
                                           reason: "\(size - header.objectSize) bytes after the end the segment header states")
        }
        if size == header.objectSize {
            // Whole object: only its last record can be torn (written but damaged).
            let last = try await store.get(segment.path, range: header.lastRecordStart..<size)
            let frame = last.withUnsafeBytes {
                LogRecordFrame.examine($0, bufferStart: header.lastRecordStart, at: header.lastRecordStart, objectSize: size)
            }
            return frame == .whole(end: size) ? header.recordCount : header.recordCount - 1
        }
        // Cut short: count the whole records before the cut.
        let bytes = try await store.get(segment.path, range: 0..<size)
        var at = LogSegmentHeader.size
        var count: UInt64 = 0
        while count < header.recordCount {
            let frame = bytes.withUnsafeBytes { LogRecordFrame.examine($0, bufferStart: 0, at: at, objectSize: size) }
            switch frame {
            case let .whole(end):
                at = end
                count += 1
                continue
            case .cut, .needMore:
                return count
            case let .badChecksum(end):
                if end == size { return count }
                throw DataflowError.damagedLog(object: segment.path, offset: at,
                                               reason: "record at offset \(segment.firstOffset + count) fails its checksum")
            }
        }
        return count
    }

    // MARK: - Appending

    /// Writes `records` as one new segment of `partition` starting at
    /// `expectedEnd`, which must be the partition's end offset. Returns the new end.
    ///
    /// Throws `DataflowError.appendConflict` (writing nothing) when the end is not
    /// `expectedEnd` or another appender creates that segment first;
    /// `invalidArgument` for records with the wrong column count or none;
    /// `damagedLog` when the last segment is torn before its first whole record
    /// (it must be removed: a new segment would take its name).
    public func append(_ topic: String, partition: Int, records: LogRecords, expectedEnd: UInt64) async throws -> UInt64 {
        let t = try await self.topic(topic)
        try check(partition, of: t)
        guard records.columns == t.columns.count else {
            throw DataflowError.invalidArgument("records of \(records.columns) columns for topic \(topic) of \(t.columns.count)")
        }
        guard records.count > 0 else {
            throw DataflowError.invalidArgument("an append to topic \(topic) partition \(partition) with no records")
        }
        let end = try await appendableEnd(t, partition: partition)
        guard end == expectedEnd else { throw DataflowError.appendConflict(topic: topic, partition: partition, offset: expectedEnd) }
        return try await create(t, partition: partition, records: records, at: end)
    }

    /// The end offset of `partition`, where the next segment goes. Throws
    /// `damagedLog` when the last segment holds no whole record (its name is the end).
    private func appendableEnd(_ topic: LogTopic, partition: Int) async throws -> UInt64 {
        guard let last = try await segments(topic.name, partition: partition).last else { return 0 }
        let end = last.firstOffset + (try await wholeRecords(inLast: last))
        if end == last.firstOffset {
            throw DataflowError.damagedLog(object: last.path, offset: 0, reason: "the last segment holds no whole record "
                + "(a torn write); delete it (it holds nothing) to append to topic \(topic.name) partition \(partition) again")
        }
        return end
    }

    /// Creates the segment of `records` at `end`, which was the partition's end
    /// when last listed. Safe without listing again: the end only moves when
    /// the segment named `end` is created, so if it moved, this create finds
    /// that object and throws `appendConflict`.
    private func create(_ topic: LogTopic, partition: Int, records: LogRecords, at end: UInt64) async throws -> UInt64 {
        let path = LogLayout.segmentPath(topic: topic.name, partition: partition, firstOffset: end)
        guard let bytes = records.segment(firstOffset: end), try await store.createIfAbsent(path, bytes) else {
            throw DataflowError.appendConflict(topic: topic.name, partition: partition, offset: end)
        }
        return end + UInt64(records.count)
    }

    /// Appends every partition's records of `batch` (one segment each, for the
    /// partitions that have any) at the partitions' current ends, listing a
    /// partition again and retrying when another appender got there first.
    /// Returns every partition's end offset after the append.
    ///
    /// Each segment is atomic, the append as a whole is not: when it throws, the
    /// partitions before the failing one have been appended.
    /// Throws `invalidArgument` when the batch's shape is not the topic's, and
    /// as `append(_:partition:records:expectedEnd:)` (`appendConflict` only after
    /// 100 lost races in a row).
    @discardableResult
    public func append(_ topic: String, _ batch: LogBatch) async throws -> [UInt64] {
        let t = try await self.topic(topic)
        guard batch.partitions == t.partitions, batch.columns == t.columns.count else {
            throw DataflowError.invalidArgument("a batch of \(batch.partitions) partitions and \(batch.columns) columns for topic \(topic) "
                + "of \(t.partitions) partitions and \(t.columns.count) columns")
        }
        var ends: [UInt64] = []
        for p in 0..<t.partitions {
            guard batch.records[p].count > 0 else {
                ends.append(try await endOffset(t, partition: p))
                continue
            }
            var lost = 0
            while true {
                let end = try await appendableEnd(t, partition: p)
                do {
                    ends.append(try await create(t, partition: p, records: batch.records[p], at: end))
                    break
                } catch DataflowError.appendConflict where lost < 99 {
                    lost += 1
                }
            }
        }
        return ends
    }

    // MARK: - Reading

    /// A reader of `partition` of `topic` whose next record is at `offset`.
    /// Throws `unknown` for a missing topic, `invalidArgument` for a partition
    /// out of range or an offset past the end, `damagedLog` for a segment before
    /// `offset` that does not read.
    public func reader(_ topic: String, partition: Int, from offset: UInt64 = 0,
                       rangeBytes: Int = LogPartitionReader.defaultRangeBytes) async throws -> LogPartitionReader {
        let t = try await self.topic(topic)
        try check(partition, of: t)
        return try await LogPartitionReader(store: store, topic: topic, partition: partition, from: offset, rangeBytes: rangeBytes)
    }

    private func check(_ partition: Int, of topic: LogTopic) throws {
        guard (0..<topic.partitions).contains(partition) else {
            throw DataflowError.invalidArgument("topic \(topic.name) has partitions 0...\(topic.partitions - 1), not \(partition)")
        }
    }
}
