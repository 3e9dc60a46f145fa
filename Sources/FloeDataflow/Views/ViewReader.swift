import Floe

/// Reads a materialized view at a committed epoch, from the store alone: the
/// view's table and columns come from the committed metadata. Several views of one
/// pipeline read at one epoch are consistent with each other.
public struct ViewReader: Sendable {
    public let definition: ViewDefinition
    let store: StateStore

    /// Throws `DataflowError.unknown` when the store holds no view `name`.
    public init(store: StateStore, view name: String) throws {
        self.store = store
        definition = try PipelineMetadata.view(name, in: store.committedMetadata)
    }

    public var schema: Schema { definition.schema }

    /// Every row of the view at `epoch` (default: the committed epoch), in
    /// primary-key order. Throws the store's errors (`epochNotRetained` for an
    /// epoch outside the retained window) and `invalidArgument` for a row that
    /// does not parse.
    public func scan(at epoch: Epoch? = nil) async throws -> Chunk {
        let types = definition.schema.types
        var chunk = Chunk(types: types)
        let columns = Array(types.indices)
        // Pinned, so that commits of a pipeline running meanwhile do not move the
        // epoch out of the retained window during the scan.
        var snapshot: Snapshot?
        while snapshot == nil {
            do {
                snapshot = try store.snapshot(epoch: epoch ?? store.committedEpoch)
            } catch FloeError.epochNotRetained where epoch == nil {
                continue
            }
        }
        defer { snapshot?.release() }
        try await snapshot!.scan(definition.table, from: nil, to: nil).forEachRow { _, v in
            try RowCodec.decode(v, types: types, into: &chunk, columns: columns, op: .insert)
            return true
        }
        return chunk
    }

    /// The rows as text fields, sorted by their values (numbers numerically,
    /// strings byte-wise, column by column).
    public func sortedRows(at epoch: Epoch? = nil) async throws -> [[String]] {
        let c = try await scan(at: epoch)
        return ViewReader.sortedFields(c)
    }

    /// The rows of a chunk as text fields, sorted by value column by column.
    public static func sortedFields(_ c: Chunk) -> [[String]] {
        let order = (0..<c.count).sorted { a, b in
            for col in c.types.indices {
                if c.types[col].isInteger {
                    let x = c.int(col, a), y = c.int(col, b)
                    if x != y { return x < y }
                } else {
                    let x = c.bytes(col, a), y = c.bytes(col, b)
                    if !x.elementsEqual(y) { return x.lexicographicallyPrecedes(y) }
                }
            }
            return false
        }
        return order.map { c.fields($0) }
    }

    /// CSV text: a header with the view's column names, then the sorted rows.
    public func csv(at epoch: Epoch? = nil) async throws -> String {
        var out = definition.schema.names.map(CsvText.quote).joined(separator: ",") + "\n"
        for row in try await sortedRows(at: epoch) { out += row.map(CsvText.quote).joined(separator: ",") + "\n" }
        return out
    }
}

/// CSV quoting (RFC 4180): a field with a comma, quote, CR or LF is quoted, and
/// quotes inside are doubled.
public enum CsvText {
    public static func quote(_ field: String) -> String {
        guard field.utf8.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 10 || $0 == 13 }) else { return field }
        var out = "\""
        for ch in field {
            if ch == "\"" { out += "\"\"" } else { out.append(ch) }
        }
        return out + "\""
    }
}
