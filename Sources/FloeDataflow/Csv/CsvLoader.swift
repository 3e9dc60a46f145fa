/// Loads a CSV file into a topic of a `PartitionedLog`.
///
/// The file's first record is the header: the column names (non-empty and
/// distinct). Each later record is a row; it goes to the partition its first
/// field's bytes hash to (`LogBatch.partition(ofKey:partitions:)`), and rows of
/// one partition keep the file's order.
///
/// All or nothing: the whole file is parsed and checked before anything is
/// written: every record has as many fields as the header, and when there is
/// a schema (the one given, or else `knownSchema(forTopic:)`: for `orders` and
/// `payments` the `EoStreams` schema, for `person`, `auction` and `bid` the
/// `NexmarkStreams` one) every value of a typed column parses as its type. The
/// first failure is thrown as `DataflowError.malformedRow` or `malformedValue`
/// at `"FILE:LINE"` (the line the record starts on; a schema column missing
/// from the header is a `malformedRow` of the header). An existing topic must have the same
/// partition count and columns (`invalidArgument` naming both); a new one is
/// created only once the file has passed.
///
/// The append itself writes one segment per partition; each is atomic, the set
/// is not (a store failure between partitions leaves the earlier ones written).
public enum CsvLoader {
    /// Loads the CSV file at `path`. Returns every partition's end offset after
    /// the load. Throws as the type describes, and `FloeError.io` when the file
    /// cannot be read.
    @discardableResult
    public static func load(file path: String, into log: PartitionedLog, topic: String, partitions: Int,
                            schema: Schema? = nil) async throws -> [UInt64] {
        let text = try LocalFile.read(path)
        return try await load(csv: text, file: path, into: log, topic: topic, partitions: partitions, schema: schema)
    }

    /// Loads CSV text; `file` names it in errors.
    @discardableResult
    public static func load(csv text: [UInt8], file: String, into log: PartitionedLog, topic: String, partitions: Int,
                            schema: Schema? = nil) async throws -> [UInt64] {
        try LogLayout.validate(topic: topic)
        try LogLayout.validate(partitions: partitions)
        let existing = try await log.topicIfExists(topic)
        if let existing, existing.partitions != partitions {
            throw DataflowError.invalidArgument("topic \(topic) exists with \(existing.partitions) partitions, not \(partitions)")
        }
        let (columns, batch) = try parse(csv: text, file: file, partitions: partitions,
                                         schema: schema ?? knownSchema(forTopic: topic))
        if let existing {
            try existing.requireMatch(partitions: partitions, columns: columns)
        } else {
            try await log.createTopic(topic, partitions: partitions, columns: columns)
        }
        return try await log.append(topic, batch)
    }

    /// The schema a CSV loaded into `topic` is checked against when none is
    /// given: the stream's schema for the example topics (`EoStreams`: `orders`,
    /// `payments`) and the Nexmark topics (`NexmarkStreams`: `person`,
    /// `auction`, `bid`); nil for any other topic.
    public static func knownSchema(forTopic topic: String) -> Schema? {
        EoStreams.schema(forTopic: topic) ?? NexmarkStreams.schema(forTopic: topic)
    }

    /// Parses and checks CSV text without writing: the header's column names and
    /// the rows, partitioned. Throws as `load`.
    public static func parse(csv text: [UInt8], file: String, partitions: Int, schema: Schema?) throws -> (columns: [String], batch: LogBatch) {
        var parser = CsvParser(text, file: file)
        var fields = CsvFields()
        guard try parser.next(into: &fields) else {
            throw DataflowError.malformedRow(location: "\(file):1", reason: "the file is empty; its first line must name the columns")
        }
        let columns = (0..<fields.count).map { fields.string($0) }
        var seen = Set<String>()
        for c in columns {
            guard !c.isEmpty else { throw DataflowError.malformedRow(location: "\(file):\(parser.recordLine)", reason: "the header has an empty column name") }
            guard seen.insert(c).inserted else {
                throw DataflowError.malformedRow(location: "\(file):\(parser.recordLine)", reason: "the header names column \"\(c)\" twice")
            }
        }
        // The type to check for each CSV column, if any.
        var types = [ColumnType?](repeating: nil, count: columns.count)
        for column in schema?.columns ?? [] {
            guard let i = columns.firstIndex(of: column.name) else {
                throw DataflowError.malformedRow(location: "\(file):\(parser.recordLine)",
                                                 reason: "the header has no column \"\(column.name)\", which the schema \(schema!) needs")
            }
            types[i] = column.type
        }
        let typed = types.indices.compactMap { i in types[i].flatMap { $0.isInteger ? (i, $0) : nil } }
        var batch = try LogBatch(partitions: partitions, columns: columns.count)
        while try parser.next(into: &fields) {
            guard fields.count == columns.count else {
                throw DataflowError.malformedRow(location: "\(file):\(parser.recordLine)",
                                                 reason: "\(fields.count) field\(fields.count == 1 ? "" : "s"), the header has \(columns.count)")
            }
            for (i, type) in typed where fields.withField(i, { ValueText.parse($0, type) }) == nil {
                throw DataflowError.malformedValue(location: "\(file):\(parser.recordLine)", column: columns[i],
                                                   type: type.description, text: fields.string(i))
            }
            let p = fields.withField(0) { LogBatch.partition(ofKey: $0, partitions: partitions) }
            batch.records[p].beginRecord()
            for i in 0..<fields.count {
                try fields.withField(i) { try batch.records[p].appendField($0) }
            }
            try batch.records[p].endRecord()
        }
        return (columns, batch)
    }
}
