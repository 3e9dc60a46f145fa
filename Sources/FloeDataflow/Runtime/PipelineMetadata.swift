import Floe

/// What a pipeline commits with every epoch, in the store's commit metadata
/// (docs/format.md §14):
/// - `pipeline.plan`: the description's fingerprint (UTF-8);
/// - `source.<name>`: every partition's `SourcePosition` after the epoch, in
///   partition order: the byte 2, then per partition the offset (`u64`), the max
///   event time (`i64`, `Int64.min` for none) and the late rows (`u64`), all
///   little-endian. The older form, 8 bytes of offset per partition, is still read
///   (no event time, no late rows);
/// - `view.<name>`: `<table>;<view index>;<schema>` (UTF-8), so readers find a view
///   from the store alone;
/// - `sinks.delivered`: the lowest epoch every sink had delivered when the epoch
///   was committed, 8 bytes little-endian (absent without sinks).
public enum PipelineMetadata {
    public static let planKey = "pipeline.plan"
    public static let sinksKey = "sinks.delivered"

    public static func sourceKey(_ name: String) -> String { "source.\(name)" }
    public static func viewKey(_ name: String) -> String { "view.\(name)" }

    /// The tag byte of the `source.<name>` form with positions (offset, max event
    /// time, late rows); the older form has no tag and 8 bytes per partition.
    static let positionsTag: UInt8 = 2

    public static func encode(positions: [SourcePosition]) -> [UInt8] {
        var out: [UInt8] = [positionsTag]
        out.reserveCapacity(1 + 24 * positions.count)
        for p in positions {
            RowCodec.appendInt(&out, Int64(bitPattern: p.offset))
            RowCodec.appendInt(&out, p.maxEventTime)
            RowCodec.appendInt(&out, Int64(bitPattern: p.lateRows))
        }
        return out
    }

    /// Reads a `source.<name>` entry, in either form, told apart by the length (a
    /// multiple of 8: the older form; the tag and a multiple of 24: positions).
    /// With `partitions`, the entry must hold exactly that many (so that a damaged
    /// entry cannot pass for the other form). Throws `invalidArgument` otherwise.
    public static func decodePositions(_ bytes: [UInt8], source: String, partitions: Int? = nil) throws -> [SourcePosition] {
        let positions: [SourcePosition]
        if bytes.count % 8 == 0 {
            positions = bytes.withUnsafeBytes { p in
                (0..<(bytes.count / 8)).map { SourcePosition(offset: UInt64(bitPattern: RowCodec.readInt(p, $0 * 8))) }
            }
        } else if bytes.count % 24 == 1, bytes[0] == positionsTag {
            positions = bytes.withUnsafeBytes { p in
                (0..<(bytes.count / 24)).map { i in
                    let at = 1 + 24 * i
                    return SourcePosition(offset: UInt64(bitPattern: RowCodec.readInt(p, at)), maxEventTime: RowCodec.readInt(p, at + 8),
                                          lateRows: UInt64(bitPattern: RowCodec.readInt(p, at + 16)))
                }
            }
        } else {
            throw DataflowError.invalidArgument("committed positions of source \(source) have \(bytes.count) bytes: "
                + "neither 8 per partition nor the tag \(positionsTag) and 24 per partition")
        }
        if let partitions, positions.count != partitions {
            throw DataflowError.invalidArgument("source \(source) has \(partitions) partitions but the store committed "
                + "\(bytes.count) bytes of positions, which is \(positions.count) in \(bytes.count % 8 == 0 ? "the older offsets-only form" : "the positions form")")
        }
        return positions
    }

    /// The committed offsets of a `source.<name>` entry (`decodePositions`).
    public static func decodeOffsets(_ bytes: [UInt8], source: String) throws -> [UInt64] {
        try decodePositions(bytes, source: source).map(\.offset)
    }

    public static func encode(view: ViewDefinition) -> [UInt8] {
        Array("\(view.table.raw);\(view.index);\(view.schema.description)".utf8)
    }

    /// Reads a view's definition from committed metadata. Throws `unknown` for a
    /// view the store does not hold, `invalidArgument` for a malformed entry.
    public static func view(_ name: String, in metadata: [String: [UInt8]]) throws -> ViewDefinition {
        guard let bytes = metadata[viewKey(name)] else {
            let known = metadata.keys.filter { $0.hasPrefix("view.") }.map { String($0.dropFirst(5)) }.sorted()
            throw DataflowError.unknown(kind: "view", name: name, known: known)
        }
        let parts = String(decoding: bytes, as: UTF8.self).split(separator: ";", maxSplits: 2).map(String.init)
        guard parts.count == 3, let t = UInt32(parts[0]), let i = UInt16(parts[1]) else {
            throw DataflowError.invalidArgument("metadata of view \(name) is malformed")
        }
        let schema = try Schema(parsing: parts[2])
        return ViewDefinition(name: name, schema: schema, table: TableID(t), index: i, primaryKey: [], visible: Array(schema.columns.indices))
    }

    /// The names of the views committed in `metadata`, sorted.
    public static func views(in metadata: [String: [UInt8]]) -> [String] {
        metadata.keys.filter { $0.hasPrefix("view.") }.map { String($0.dropFirst(5)) }.sorted()
    }
}
