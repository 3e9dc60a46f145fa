/// Reads one partition of a `LogSource` into chunks: the records of a window of
/// the partition reader are parsed straight from the segment bytes, with no
/// allocation per row beyond the chunk's own arrays.
///
/// A row is appended only once all of its fields parsed; on a bad field the
/// rows before it stay appended, the reader's offset stays at the bad row and
/// the error (`malformedValue` or `damagedLog`) is thrown.
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
        var appended = 0
        while appended < max {
            let w = try await log.window(max: max - appended)
            if w.count == 0 { break }
            var taken = 0
            var end = w.start
            let failure = parse(w, into: &chunk, taken: &taken, end: &end)
            log.consume(taken, endingAt: end, of: w)
            appended += taken
            if let failure { throw failure }
        }
        return appended > 0 ? .rows(appended) : .caughtUp
    }

    /// Appends the window's records to `chunk` until one fails. `taken` and `end`
    /// report the rows appended and where the first one not appended starts.
    private func parse(_ w: LogRecordWindow, into chunk: inout Chunk, taken: inout Int, end: inout Int) -> DataflowError? {
        let columns = topicColumns
        return w.bytes.withUnsafeBytes { p -> DataflowError? in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * columns) { field -> DataflowError? in
                withUnsafeTemporaryAllocation(of: Int64.self, capacity: types.count) { value -> DataflowError? in
                    var at = w.start
                    while taken < w.count {
                        let recordEnd = at + 12 + Int(LittleEndian.u32(p, at))
                        // Locate every field (checksummed bytes, but written by whom?).
                        var f = at + 12
                        for t in 0..<columns {
                            guard recordEnd - f >= 4 else {
                                return .damagedLog(object: w.object, offset: w.objectStart + at,
                                                   reason: "record at offset \(w.firstOffset + UInt64(taken)) has \(t) fields, the topic \(columns)")
                            }
                            let n = Int(LittleEndian.u32(p, f))
                            guard n <= recordEnd - f - 4 else {
                                return .damagedLog(object: w.object, offset: w.objectStart + at,
                                                   reason: "field \(t) of the record at offset \(w.firstOffset + UInt64(taken)) runs past the record")
                            }
                            field[2 * t] = f + 4
                            field[2 * t + 1] = n
                            f += 4 + n
                        }
                        guard f == recordEnd else {
                            return .damagedLog(object: w.object, offset: w.objectStart + at,
                                               reason: "record at offset \(w.firstOffset + UInt64(taken)) has more than the topic's \(columns) fields")
                        }
                        // Parse every integer-like column before appending anything.
                        for c in types.indices where types[c].isInteger {
                            let t = topicColumnOfSchemaColumn[c]
                            let text = UnsafeRawBufferPointer(rebasing: p[field[2 * t]..<(field[2 * t] + field[2 * t + 1])])
                            guard let v = ValueText.parse(text, types[c]) else {
                                return .malformedValue(location: "topic \(topic) partition \(log.partition) offset \(w.firstOffset + UInt64(taken))",
                                                       column: names[c], type: types[c].description,
                                                       text: String(decoding: text, as: UTF8.self))
                            }
                            value[c] = v
                        }
                        chunk.appendOp(.insert)
                        for c in types.indices {
                            let t = topicColumnOfSchemaColumn[c]
                            if types[c].isInteger {
                                chunk.appendInt(c, value[c])
                            } else {
                                chunk.appendBytes(c, UnsafeRawBufferPointer(rebasing: p[field[2 * t]..<(field[2 * t] + field[2 * t + 1])]))
                            }
                        }
                        taken += 1
                        at = recordEnd
                        end = at
                    }
                    return nil
                }
            }
        }
    }
}
