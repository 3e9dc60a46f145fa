/// Writes a Nexmark stream as a CSV file: a header of the schema's column
/// names, then one line per event of the stream among global events `0 ..< N`,
/// in event order, each value in its `ValueText` text form (what `CsvLoader`
/// and `floe log load` read back; RFC 4180 quoting by `CsvWriter`, which no
/// generated value needs).
///
/// Memory is bounded: the text goes to the file in blocks of about 1 MiB.
public enum NexmarkCsv {
    /// The size of the blocks written.
    static let blockBytes = 1 << 20

    /// Writes the events of `stream` among the first `events` global events
    /// of `generator` to the file at `path` (created or replaced). Returns the
    /// number of rows written. Throws `FloeError.io` naming the file.
    @discardableResult
    public static func write(_ stream: NexmarkStreams.Stream, generator: NexmarkGenerator, events: UInt64,
                             to path: String) throws -> UInt64 {
        let file = try LocalFileWriter(path: path)
        let rows = NexmarkEvents.count(of: stream, events: events)
        var writer = CsvWriter()
        writer.row(stream.schema.names)
        var row = NexmarkRow(stream: stream)
        for k in 0..<rows {
            generator.generate(event: NexmarkEvents.event(k, of: stream), into: &row)
            row.appendCsv(to: &writer)
            if writer.bytes.count >= blockBytes { try file.write(writer.take()) }
        }
        try file.write(writer.take())
        try file.close()
        return rows
    }

    /// The CSV text (header, then one line per event) of `stream`'s events
    /// among global events `0 ..< events`, in memory (for tests and small files).
    public static func text(_ stream: NexmarkStreams.Stream, generator: NexmarkGenerator, events: UInt64) -> [UInt8] {
        var writer = CsvWriter()
        writer.row(stream.schema.names)
        var row = NexmarkRow(stream: stream)
        for k in 0..<NexmarkEvents.count(of: stream, events: events) {
            generator.generate(event: NexmarkEvents.event(k, of: stream), into: &row)
            row.appendCsv(to: &writer)
        }
        return writer.take()
    }
}
