/// Reads one partition of a `LogSource` into chunks: the records of a window of
/// the partition reader are parsed straight from the segment bytes, a column at
/// a time, with no allocation per row beyond the chunk's own arrays.
///
/// A row is appended only once all of its fields parsed. A read that meets a
/// bad row (a field that does not parse, a damaged record) returns the rows
/// before it; the reader stays at the bad row, and the read that starts there
/// throws (`malformedValue` or `damagedLog`) with nothing appended, as does
/// every read after it.
struct LogSourceReader: SourceReader {
    private var log: LogPartitionReader
    private let types: [ColumnType]
    private let names: [String]
    private let topicColumnOfSchemaColumn: [Int]
    private let topicColumns: Int
    private let topic: String

    init(log: LogPartitionReader, source: LogSource) {
        self.log = log
        types = source.schema.types
        names = source.schema.names
        topicColumnOfSchemaColumn = source.topicColumnOfSchemaColumn
        topicColumns = source.topic.columns.count
        topic = source.topic.name
    }

    var offset: UInt64 { log.offset }

    mutating func read(into chunk: inout Chunk, max: Int) async throws -> SourceRead {
        guard max > 0 else { return .rows(0) }
        var appended = 0
        while appended < max {
            let w: LogRecordWindow
            do {
                w = try await log.window(max: max - appended)
            } catch where appended > 0 {
                break // the next read meets the error again, with nothing appended
            }
            if w.count == 0 { break }
            var taken = 0
            var end = w.start
            let failure = parse(w, rows: min(w.count, max - appended), into: &chunk, taken: &taken, end: &end)
            log.consume(taken, endingAt: end, of: w)
            appended += taken
            if let failure {
                if appended > 0 { break }
                throw failure
            }
        }
        return appended > 0 ? .rows(appended) : .caughtUp
    }

    /// Appends the first `rows` records of the window to `chunk`, a column at a
    /// time: locate every field, parse every integer-like column, then append the
    /// rows before the first that failed (in row-major order: the earliest row,
    /// and in it the first column in schema order). `taken` and `end` report the
    /// rows appended and where the first one not appended starts.
    private func parse(_ w: LogRecordWindow, rows: Int, into chunk: inout Chunk, taken: inout Int, end: inout Int) -> DataflowError? {
        let columns = topicColumns
        let stride = 2 * columns + 1
        let integerColumns = types.indices.filter { types[$0].isInteger }
        return w.bytes.withUnsafeBytes { p -> DataflowError? in
            // Per row: (start, length) of every topic field, then the record's end.
            withUnsafeTemporaryAllocation(of: Int.self, capacity: rows * stride) { table -> DataflowError? in
                let table = table.baseAddress!
                var good = rows
                var failure: DataflowError?
                var at = w.start
                locate: for r in 0..<rows {
                    let row = table + r * stride
                    let recordEnd = at + 12 + Int(LittleEndian.u32(p, at))
                    var f = at + 12
                    for t in 0..<columns {
                        guard recordEnd - f >= 4, Int(LittleEndian.u32(p, f)) <= recordEnd - f - 4 else {
                            good = r
                            failure = .damagedLog(object: w.object, offset: w.objectStart + at,
                                                  reason: "the record at offset \(w.firstOffset + UInt64(r)) has fewer than the topic's \(columns) fields (field \(t) runs past its end)")
                            break locate
                        }
                        row[2 * t] = f + 4
                        row[2 * t + 1] = Int(LittleEndian.u32(p, f))
                        f += 4 + row[2 * t + 1]
                    }
                    guard f == recordEnd else {
                        good = r
                        failure = .damagedLog(object: w.object, offset: w.objectStart + at,
                                              reason: "the record at offset \(w.firstOffset + UInt64(r)) has more than the topic's \(columns) fields")
                        break
                    }
                    row[2 * columns] = recordEnd
                    at = recordEnd
                }
                @inline(__always) func field(_ r: Int, _ t: Int) -> UnsafeRawBufferPointer {
                    let row = table + r * stride
                    return UnsafeRawBufferPointer(rebasing: p[row[2 * t]..<(row[2 * t] + row[2 * t + 1])])
                }
                return withUnsafeTemporaryAllocation(of: Int64.self, capacity: Swift.max(1, rows * integerColumns.count)) { values -> DataflowError? in
                    let values = values.baseAddress!
                    for (k, c) in integerColumns.enumerated() {
                        let t = topicColumnOfSchemaColumn[c]
                        let out = values + k * rows
                        var bad = -1
                        switch types[c] {
                        case .int64:
                            for r in 0..<good {
                                guard let v = ValueText.parseInt(field(r, t)) else { bad = r; break }
                                out[r] = v
                            }
                        case let .decimal(scale):
                            for r in 0..<good {
                                guard let v = ValueText.parseDecimal(field(r, t), scale: scale) else { bad = r; break }
                                out[r] = v
                            }
                        case .timestamp:
                            for r in 0..<good {
                                guard let v = ValueText.parseTimestamp(field(r, t)) else { bad = r; break }
                                out[r] = v
                            }
                        case .bytes:
                            break
                        }
                        if bad >= 0 {
                            good = bad
                            failure = .malformedValue(location: "topic \(topic) partition \(log.partition) offset \(w.firstOffset + UInt64(bad))",
                                                      column: names[c], type: types[c].description,
                                                      text: String(decoding: field(bad, t), as: UTF8.self))
                        }
                    }
                    chunk.appendOps(.insert, count: good)
                    var k = 0
                    for c in types.indices {
                        if types[c].isInteger {
                            chunk.appendInts(c, UnsafeBufferPointer(start: values + k * rows, count: good))
                            k += 1
                        } else {
                            let t = topicColumnOfSchemaColumn[c]
                            chunk.withStringColumn(c) { arena, rowEnds in
                                for r in 0..<good {
                                    arena.append(contentsOf: field(r, t))
                                    rowEnds.append(arena.count)
                                }
                            }
                        }
                    }
                    taken = good
                    end = good == 0 ? w.start : table[(good - 1) * stride + 2 * columns]
                    return failure
                }
            }
        }
    }
}
