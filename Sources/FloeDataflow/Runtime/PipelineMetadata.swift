import Floe

/// What a pipeline commits with every epoch, in the store's commit metadata
/// (docs/format.md §14):
/// - `pipeline.plan`: the description's fingerprint (UTF-8);
/// - `source.<name>`: the offset of every partition after the epoch, 8 bytes
///   little-endian each, in partition order;
/// - `view.<name>`: `<table>;<view index>;<schema>` (UTF-8), so readers find a view
///   from the store alone;
/// - `sinks.delivered`: the lowest epoch every sink had delivered when the epoch
///   was committed, 8 bytes little-endian (absent without sinks).
public enum PipelineMetadata {
    public static let planKey = "pipeline.plan"
    public static let sinksKey = "sinks.delivered"

    public static func sourceKey(_ name: String) -> String { "source.\(name)" }
    public static func viewKey(_ name: String) -> String { "view.\(name)" }

    public static func encode(offsets: [UInt64]) -> [UInt8] {
        var out: [UInt8] = []
        for o in offsets { RowCodec.appendInt(&out, Int64(bitPattern: o)) }
        return out
    }

    /// Throws `invalidArgument` when the bytes are not a whole number of offsets.
    public static func decodeOffsets(_ bytes: [UInt8], source: String) throws -> [UInt64] {
        guard bytes.count % 8 == 0 else {
            throw DataflowError.invalidArgument("committed offsets of source \(source) have \(bytes.count) bytes, not a multiple of 8")
        }
        return bytes.withUnsafeBytes { p in (0..<(bytes.count / 8)).map { UInt64(bitPattern: RowCodec.readInt(p, $0 * 8)) } }
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
