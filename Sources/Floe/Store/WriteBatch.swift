/// Many puts and deletes applied to one epoch under a single lock acquisition.
/// Keys and values are copied into one contiguous buffer as they are added.
public struct WriteBatch: Sendable {
    struct Op: Sendable {
        var table: UInt32
        var kind: UInt8
        var keyOffset: Int
        var keyLength: Int
        var valueLength: Int
    }

    var arena: [UInt8] = []
    var ops: [Op] = []

    public init(reservingBytes: Int = 0) {
        arena.reserveCapacity(reservingBytes)
    }

    /// Number of operations in the batch.
    public var count: Int { ops.count }
    public var isEmpty: Bool { ops.isEmpty }

    public mutating func put(_ table: TableID, key: [UInt8], value: [UInt8]) {
        ops.append(Op(table: table.raw, kind: ValueKind.put, keyOffset: arena.count, keyLength: key.count, valueLength: value.count))
        arena.append(contentsOf: key)
        arena.append(contentsOf: value)
    }

    public mutating func delete(_ table: TableID, key: [UInt8]) {
        ops.append(Op(table: table.raw, kind: ValueKind.delete, keyOffset: arena.count, keyLength: key.count, valueLength: 0))
        arena.append(contentsOf: key)
    }

    public mutating func removeAll() {
        arena.removeAll(keepingCapacity: true)
        ops.removeAll(keepingCapacity: true)
    }
}
