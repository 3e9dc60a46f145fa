/// The type of one column of a row.
///
/// Integers, decimals and timestamps are held as 64-bit integers in a chunk: a
/// decimal of scale `s` as its value times 10^s (so `299.99` at scale 2 is 29999),
/// a timestamp as microseconds since 1970-01-01 00:00:00 UTC. Strings are bytes
/// (UTF-8 by convention; nothing checks it).
public enum ColumnType: Sendable, Hashable, CustomStringConvertible {
    case int64
    /// An exact decimal with `scale` digits after the point (0...18).
    case decimal(scale: Int)
    case bytes
    /// Microseconds since 1970-01-01 00:00:00 UTC, printed `YYYY-MM-DD HH:MM:SS`.
    case timestamp

    /// True when a chunk holds this column in its integer array.
    @inlinable public var isInteger: Bool {
        if case .bytes = self { return false }
        return true
    }

    public var description: String {
        switch self {
        case .int64: return "int64"
        case let .decimal(s): return "decimal(\(s))"
        case .bytes: return "string"
        case .timestamp: return "timestamp"
        }
    }

    /// Parses `int64`, `decimal(S)`, `string` (or `bytes`) and `timestamp`.
    /// Throws `DataflowError.invalidArgument` for anything else.
    public init(parsing text: String) throws {
        switch text {
        case "int64", "bigint": self = .int64
        case "string", "bytes", "varchar": self = .bytes
        case "timestamp": self = .timestamp
        default:
            if text.hasPrefix("decimal("), text.hasSuffix(")"), let s = Int(text.dropFirst(8).dropLast()), (0...18).contains(s) {
                self = .decimal(scale: s)
            } else {
                throw DataflowError.invalidArgument("unknown column type \"\(text)\" (use int64, decimal(S) with S in 0...18, string or timestamp)")
            }
        }
    }
}

/// A named, typed column.
public struct ColumnDef: Sendable, Hashable {
    public var name: String
    public var type: ColumnType
    public init(_ name: String, _ type: ColumnType) {
        self.name = name
        self.type = type
    }
}

/// The columns of a row, in order.
public struct Schema: Sendable, Hashable, CustomStringConvertible {
    public var columns: [ColumnDef]
    public init(_ columns: [ColumnDef]) { self.columns = columns }

    public var count: Int { columns.count }
    public var names: [String] { columns.map(\.name) }
    public var types: [ColumnType] { columns.map(\.type) }

    /// The position of the column called `name`. Throws `unknownColumn`.
    public func index(of name: String) throws -> Int {
        guard let i = columns.firstIndex(where: { $0.name == name }) else {
            throw DataflowError.unknownColumn(name, available: names)
        }
        return i
    }

    /// `name:type,...`, the form `init(parsing:)` reads.
    public var description: String { columns.map { "\($0.name):\($0.type)" }.joined(separator: ",") }

    /// Reads `name:type,name:type,...`. Throws `invalidArgument`.
    public init(parsing text: String) throws {
        var cols: [ColumnDef] = []
        for part in text.split(separator: ",") {
            let pieces = part.split(separator: ":", maxSplits: 1)
            guard pieces.count == 2, !pieces[0].isEmpty else {
                throw DataflowError.invalidArgument("schema column \"\(part)\" is not name:type")
            }
            cols.append(ColumnDef(String(pieces[0]), try ColumnType(parsing: String(pieces[1]))))
        }
        guard !cols.isEmpty else { throw DataflowError.invalidArgument("empty schema") }
        self.columns = cols
    }
}
