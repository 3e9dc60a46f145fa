import Floe
import Testing
@testable import FloeDataflow

/// Torn tails and damage, on segment files in a `LocalObjectStore` directory.
/// Byte positions here come from the layout in docs/format.md §12: a 48-byte
/// segment header, then per record 12 bytes of framing and per field 4 bytes of
/// length before its bytes.
@Suite struct LogDamageTests {
    static let first: [[[UInt8]]] = [[Array("a1".utf8), Array("x,y".utf8)], [Array("a2".utf8), []], [Array("a3".utf8), [0, 0x22, 0x0A]]]
    static let second: [[[UInt8]]] = [[Array("b1".utf8), Array("q".utf8)], [Array("b2".utf8), Array("long field".utf8)], [Array("b3".utf8), Array("z".utf8)]]
    static let third: [[[UInt8]]] = [[Array("c1".utf8), Array("after".utf8)], [Array("c2".utf8), Array("the cut".utf8)]]
    static let schema = Schema([ColumnDef("k", .bytes), ColumnDef("v", .bytes)])

    static func recordSize(_ row: [[UInt8]]) -> Int { 12 + row.reduce(0) { $0 + 4 + $1.count } }

    /// A log in `dir` with topic `t` (one partition), the segments `first` (offsets
    /// 0..<3) and `second` (3..<6). Returns the two segment file paths.
    static func build(_ dir: LogTempDirectory) async throws -> (log: PartitionedLog, seg1: String, seg2: String) {
        let log = PartitionedLog(store: try LocalObjectStore(root: dir.path))
        try await log.createTopic("t", partitions: 1, columns: ["k", "v"])
        for rows in [first, second] {
            var batch = try LogBatch(partitions: 1, columns: 2)
            for r in rows { try batch.append(partition: 0, fields: r) }
            try await log.append("t", batch)
        }
        return (log, dir.path + "/t/0000/00000000000000000000.seg", dir.path + "/t/0000/00000000000000000003.seg")
    }

    static func append(_ log: PartitionedLog, _ rows: [[[UInt8]]]) async throws -> [UInt64] {
        var batch = try LogBatch(partitions: 1, columns: 2)
        for r in rows { try batch.append(partition: 0, fields: r) }
        return try await log.append("t", batch)
    }

    static func readAll(_ log: PartitionedLog, from offset: UInt64 = 0) async throws -> (rows: [[[UInt8]]], last: SourceRead, offset: UInt64) {
        let source = try await LogSource(log: log, topic: "t", schema: schema)
        return try await readSourceBytes(source, partition: 0, from: offset, steps: { 2 })
    }

    @Test func tornTailIsIgnoredAtEveryCutOfTheLastRecord() async throws {
        let lastStart = 48 + Self.recordSize(Self.second[0]) + Self.recordSize(Self.second[1])
        let fullSize = lastStart + Self.recordSize(Self.second[2])
        for cut in lastStart..<fullSize {
            let dir = try LogTempDirectory()
            defer { dir.remove() }
            let (log, _, seg2) = try await Self.build(dir)
            #expect(try fileBytes(seg2).count == fullSize)
            try overwriteFile(seg2, Array(try fileBytes(seg2)[0..<cut]))
            let got = try await Self.readAll(log)
            #expect(got.rows == Self.first + Self.second[0..<2], "cut at \(cut)")
            #expect(got.last == .caughtUp && got.offset == 5, "cut at \(cut)")
            #expect(try await log.endOffsets("t") == [5], "cut at \(cut)")
            // A reader caught up at the torn record sees what is appended after it.
            let source = try await LogSource(log: log, topic: "t", schema: Self.schema)
            var waiting = try await source.reader(partition: 0, from: 5)
            var chunk = Chunk(schema: Self.schema)
            #expect(try await waiting.read(into: &chunk, max: 10) == .caughtUp, "cut at \(cut)")
            await #expect(throws: DataflowError.self, "cut at \(cut): offset 6 is past the end") {
                _ = try await source.reader(partition: 0, from: 6)
            }
            // The next append continues at the torn record's offset; the torn bytes are skipped.
            #expect(try await Self.append(log, Self.third) == [7], "cut at \(cut)")
            #expect(try await waiting.read(into: &chunk, max: 10) == .rows(2), "cut at \(cut)")
            #expect((0..<2).map { r in (0..<2).map { Array(chunk.bytes($0, r)) } } == Self.third, "cut at \(cut)")
            let after = try await Self.readAll(log)
            #expect(after.rows == Self.first + Self.second[0..<2] + Self.third, "cut at \(cut)")
            #expect(after.last == .caughtUp && after.offset == 7, "cut at \(cut)")
            #expect(try await Self.readAll(log, from: 4).rows == [Self.second[1]] + Self.third, "cut at \(cut)")
        }
    }

    @Test func lastRecordFailingItsChecksumIsATornTail() async throws {
        let dir = try LogTempDirectory()
        defer { dir.remove() }
        let (log, _, seg2) = try await Self.build(dir)
        var bytes = try fileBytes(seg2)
        bytes[bytes.count - 1] ^= 0x40 // last byte of the last record's payload
        try overwriteFile(seg2, bytes)
        let got = try await Self.readAll(log)
        #expect(got.rows == Self.first + Self.second[0..<2] && got.last == .caughtUp)
        #expect(try await log.endOffsets("t") == [5])
        #expect(try await Self.append(log, Self.third) == [7])
        #expect(try await Self.readAll(log).rows == Self.first + Self.second[0..<2] + Self.third)
    }

    @Test func lastSegmentTornInsideItsHeaderBlocksAppendsUntilRemoved() async throws {
        for cut in [0, 1, 20, 47] {
            let dir = try LogTempDirectory()
            defer { dir.remove() }
            let (log, _, seg2) = try await Self.build(dir)
            try overwriteFile(seg2, Array(try fileBytes(seg2)[0..<cut]))
            let got = try await Self.readAll(log)
            #expect(got.rows == Self.first && got.last == .caughtUp, "cut at \(cut)")
            #expect(try await log.endOffsets("t") == [3], "cut at \(cut)")
            do {
                _ = try await Self.append(log, Self.third)
                Issue.record("cut at \(cut): an append over a segment holding no whole record succeeded")
            } catch let DataflowError.damagedLog(object, _, _) {
                #expect(object == "t/0000/00000000000000000003.seg", "cut at \(cut)")
            }
            try await log.store.delete("t/0000/00000000000000000003.seg")
            #expect(try await Self.append(log, Self.third) == [5], "cut at \(cut)")
            #expect(try await Self.readAll(log).rows == Self.first + Self.third, "cut at \(cut)")
        }
    }

    /// Reads from 0 in reads of 100 rows and expects `damagedLog` for `object` at
    /// byte `offset`, with the rows before the damage delivered and the reader left at it.
    func expectDamage(_ log: PartitionedLog, object: String, offset: Int, rowsBefore: Int,
                      sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let source = try await LogSource(log: log, topic: "t", schema: Self.schema)
        var reader = try await source.reader(partition: 0, from: 0)
        var chunk = Chunk(schema: Self.schema)
        var error: DataflowError?
        do {
            while case .rows = try await reader.read(into: &chunk, max: 100) {}
        } catch let e as DataflowError {
            error = e
        }
        guard case let .damagedLog(o, at, reason)? = error else {
            Issue.record("expected damagedLog, got \(String(describing: error))", sourceLocation: sourceLocation)
            return
        }
        #expect(o == object && at == offset, "damagedLog(\(o), \(at), \(reason))", sourceLocation: sourceLocation)
        #expect(chunk.count == rowsBefore && reader.offset == UInt64(rowsBefore), sourceLocation: sourceLocation)
    }

    @Test func damageInTheMiddleNamesTheObjectAndByteOffset() async throws {
        let seg1Name = "t/0000/00000000000000000000.seg", seg2Name = "t/0000/00000000000000000003.seg"
        let record1 = 48 + Self.recordSize(Self.first[0])
        let record2 = record1 + Self.recordSize(Self.first[1])
        do { // a payload byte of record 1 of the first segment
            let dir = try LogTempDirectory()
            defer { dir.remove() }
            let (log, seg1, _) = try await Self.build(dir)
            var bytes = try fileBytes(seg1)
            bytes[record1 + 12 + 4] ^= 1 // the first byte of its first field
            try overwriteFile(seg1, bytes)
            try await expectDamage(log, object: seg1Name, offset: record1, rowsBefore: 1)
        }
        do { // the first record of the last segment (not its last record)
            let dir = try LogTempDirectory()
            defer { dir.remove() }
            let (log, _, seg2) = try await Self.build(dir)
            var bytes = try fileBytes(seg2)
            bytes[48 + 12 + 5] ^= 0x80
            try overwriteFile(seg2, bytes)
            try await expectDamage(log, object: seg2Name, offset: 48, rowsBefore: 3)
        }
        do { // a middle record's length made huge, in the last segment
            let dir = try LogTempDirectory()
            defer { dir.remove() }
            let (log, _, seg2) = try await Self.build(dir)
            var bytes = try fileBytes(seg2)
            let r1 = 48 + Self.recordSize(Self.second[0])
            bytes[r1 + 3] = 0x7F
            try overwriteFile(seg2, bytes)
            try await expectDamage(log, object: seg2Name, offset: r1, rowsBefore: 4)
        }
        do { // the first segment cut short: records are missing before the next segment
            let dir = try LogTempDirectory()
            defer { dir.remove() }
            let (log, seg1, _) = try await Self.build(dir)
            try overwriteFile(seg1, Array(try fileBytes(seg1)[0..<(record2 + 5)]))
            try await expectDamage(log, object: seg1Name, offset: record2, rowsBefore: 2)
        }
        do { // the header checksum of the first segment
            let dir = try LogTempDirectory()
            defer { dir.remove() }
            let (log, seg1, _) = try await Self.build(dir)
            var bytes = try fileBytes(seg1)
            bytes[9] ^= 1 // inside the first offset
            try overwriteFile(seg1, bytes)
            try await expectDamage(log, object: seg1Name, offset: 40, rowsBefore: 0)
        }
        do { // bytes after the end its header states
            let dir = try LogTempDirectory()
            defer { dir.remove() }
            let (log, seg1, _) = try await Self.build(dir)
            let bytes = try fileBytes(seg1)
            try overwriteFile(seg1, bytes + [1, 2, 3])
            try await expectDamage(log, object: seg1Name, offset: bytes.count, rowsBefore: 0)
        }
        do { // a record with a valid checksum but three fields, in a topic of two
            let dir = try LogTempDirectory()
            defer { dir.remove() }
            let (log, _, _) = try await Self.build(dir)
            var records = LogRecords(columns: 3)
            try records.append(fields: [Array("c1".utf8), [], []])
            let path = "t/0000/00000000000000000006.seg"
            #expect(try await log.store.createIfAbsent(path, try #require(records.segment(firstOffset: 6))))
            let source = try await LogSource(log: log, topic: "t", schema: Self.schema)
            var reader = try await source.reader(partition: 0, from: 5)
            var chunk = Chunk(schema: Self.schema)
            do {
                while case .rows = try await reader.read(into: &chunk, max: 100) {}
                Issue.record("a record of three fields was read")
            } catch let DataflowError.damagedLog(object, offset, _) {
                #expect(object == path && offset == 48)
            }
            #expect(chunk.count == 1 && reader.offset == 6)
        }
        do { // segments that overlap or leave a gap (whole, checksummed segments in the wrong places)
            for (rows, damageAt) in [(Self.first + [Self.third[0]], 48 + Self.first.reduce(0) { $0 + Self.recordSize($1) }),
                                     (Array(Self.first[0..<2]), 48 + Self.first[0..<2].reduce(0) { $0 + Self.recordSize($1) })] {
                let dir = try LogTempDirectory()
                defer { dir.remove() }
                let (log, _, _) = try await Self.build(dir)
                var records = LogRecords(columns: 2)
                for r in rows { try records.append(fields: r) }
                try await log.store.put(seg1Name, try #require(records.segment(firstOffset: 0)))
                try await expectDamage(log, object: seg1Name, offset: damageAt, rowsBefore: min(rows.count, 3))
            }
        }
        do { // damaged topic metadata
            let dir = try LogTempDirectory()
            defer { dir.remove() }
            let (log, _, _) = try await Self.build(dir)
            var bytes = try fileBytes(dir.path + "/t/topic.meta")
            bytes[8] ^= 1
            try overwriteFile(dir.path + "/t/topic.meta", bytes)
            await #expect(throws: DataflowError.damagedLog(object: "t/topic.meta", offset: bytes.count - 8, reason: "checksum mismatch")) {
                _ = try await LogSource(log: log, topic: "t", schema: Self.schema)
            }
        }
    }
}
