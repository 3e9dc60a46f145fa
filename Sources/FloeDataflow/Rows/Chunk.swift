/// What a row of a chunk does to the result: operators exchange changes, not rows.
/// An update travels as a delete of the old row followed by an insert of the new one.
public enum ChangeOp: UInt8, Sendable {
    case insert = 0
    case delete = 1

    /// +1 for an insert, -1 for a delete: the weight of the row in a count.
    @inlinable public var sign: Int64 { self == .insert ? 1 : -1 }
}

/// A batch of changes in columns: what flows between operators.
///
/// Integer-like columns (int64, decimal, timestamp) live in one `[Int64]` each,
/// string columns in one byte arena each with the end offset of every row, so a
/// chunk of thousands of rows is a handful of arrays and appending a row does not
/// allocate once the arrays have grown. Every row is appended whole: one `op`,
/// then one value for every column in order (`appendInt` or `appendBytes`).
public struct Chunk: Sendable {
    public let types: [ColumnType]
    @usableFromInline var _ops: [ChangeOp] = []
    public var ops: [ChangeOp] { _ops }
    @usableFromInline var ints: [[Int64]]
    @usableFromInline var arenas: [[UInt8]]
    @usableFromInline var ends: [[Int]]

    public init(types: [ColumnType], capacity: Int = 0) {
        self.types = types
        ints = types.map { _ in [] }
        arenas = types.map { _ in [] }
        ends = types.map { _ in [] }
        if capacity > 0 { reserve(capacity) }
    }

    public init(schema: Schema, capacity: Int = 0) { self.init(types: schema.types, capacity: capacity) }

    public mutating func reserve(_ rows: Int) {
        _ops.reserveCapacity(rows)
        for c in types.indices {
            if types[c].isInteger { ints[c].reserveCapacity(rows) } else { ends[c].reserveCapacity(rows) }
        }
    }

    @inlinable public var count: Int { _ops.count }
    @inlinable public var isEmpty: Bool { _ops.isEmpty }

    /// Starts a row; append one value per column after it.
    @inlinable public mutating func appendOp(_ op: ChangeOp) { _ops.append(op) }
    @inlinable public mutating func appendInt(_ column: Int, _ value: Int64) { ints[column].append(value) }
    @inlinable public mutating func appendBytes(_ column: Int, _ value: UnsafeRawBufferPointer) {
        arenas[column].append(contentsOf: value)
        ends[column].append(arenas[column].count)
    }
    @inlinable public mutating func appendBytes(_ column: Int, _ value: some Collection<UInt8>) {
        arenas[column].append(contentsOf: value)
        ends[column].append(arenas[column].count)
    }

    /// Starts a row with `op` and copies row `row` of `other` into this chunk's first
    /// `other.types.count` columns (which must have the same types). A chunk with
    /// more columns gets their values appended after.
    @inlinable public mutating func appendRow(of other: Chunk, _ row: Int, op: ChangeOp) {
        _ops.append(op)
        for c in other.types.indices {
            if types[c].isInteger {
                ints[c].append(other.ints[c][row])
            } else {
                let s = row == 0 ? 0 : other.ends[c][row - 1], e = other.ends[c][row]
                arenas[c].append(contentsOf: other.arenas[c][s..<e])
                ends[c].append(arenas[c].count)
            }
        }
    }

    @inlinable public func op(_ row: Int) -> ChangeOp { _ops[row] }
    @inlinable public func int(_ column: Int, _ row: Int) -> Int64 { ints[column][row] }

    /// The bytes of a string column's row (a slice of the chunk's arena: no copy).
    @inlinable public func bytes(_ column: Int, _ row: Int) -> ArraySlice<UInt8> {
        let s = row == 0 ? 0 : ends[column][row - 1]
        return arenas[column][s..<ends[column][row]]
    }

    @inlinable public func withBytes<R>(_ column: Int, _ row: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let s = row == 0 ? 0 : ends[column][row - 1], e = ends[column][row]
        return try arenas[column].withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[s..<e])) }
    }

    /// The integers of a column, for loops over a whole chunk.
    @inlinable public func integers(_ column: Int) -> [Int64] { ints[column] }

    public mutating func removeAll() {
        _ops.removeAll(keepingCapacity: true)
        for c in types.indices {
            ints[c].removeAll(keepingCapacity: true)
            arenas[c].removeAll(keepingCapacity: true)
            ends[c].removeAll(keepingCapacity: true)
        }
    }

    /// Checks that every column holds one value per row (a debugging aid for
    /// operators that build chunks by hand).
    public var isWellFormed: Bool {
        types.indices.allSatisfy { c in (types[c].isInteger ? ints[c].count : ends[c].count) == ops.count }
    }

    /// Row `row` as text fields (`ValueText` formatting), for dumps, tests and errors.
    public func fields(_ row: Int) -> [String] {
        types.indices.map { c in
            types[c].isInteger ? ValueText.format(int(c, row), types[c]) : String(decoding: bytes(c, row), as: UTF8.self)
        }
    }
}
