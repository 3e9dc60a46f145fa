/// The compact (not order-preserving) encoding of a row in a state value:
/// integer-like columns as 8 bytes little-endian, string columns as a 4-byte
/// little-endian length and the bytes. The schema is not stored; the state table
/// that wrote the value knows it. docs/format.md §14.
public enum RowCodec {
    /// Appends the columns `columns` of row `row` of `chunk`.
    @inlinable public static func append(_ out: inout [UInt8], _ chunk: Chunk, row: Int, columns: [Int]) {
        for c in columns {
            if chunk.types[c].isInteger {
                appendInt(&out, chunk.int(c, row))
            } else {
                let b = chunk.bytes(c, row)
                appendLength(&out, b.count)
                out.append(contentsOf: b)
            }
        }
    }

    @inlinable public static func appendInt(_ out: inout [UInt8], _ v: Int64) {
        var u = UInt64(bitPattern: v)
        for _ in 0..<8 {
            out.append(UInt8(truncatingIfNeeded: u))
            u >>= 8
        }
    }

    @inlinable static func appendLength(_ out: inout [UInt8], _ n: Int) {
        var u = UInt32(n)
        for _ in 0..<4 {
            out.append(UInt8(truncatingIfNeeded: u))
            u >>= 8
        }
    }

    /// Decodes a value written by `append` for columns of `types` and appends it to
    /// `chunk` as one row with `op`, into the chunk columns `into` (one per type).
    /// Throws `DataflowError.invalidArgument` for a value that is cut short or too long.
    public static func decode(_ value: UnsafeRawBufferPointer, types: [ColumnType], into chunk: inout Chunk, columns: [Int], op: ChangeOp) throws {
        var at = 0
        // Check the whole value before appending, so a bad value leaves the chunk whole.
        for t in types {
            if t.isInteger {
                at += 8
            } else {
                guard at + 4 <= value.count else { throw DataflowError.invalidArgument("state row cut short at byte \(at) of \(value.count)") }
                at += 4 + Int(readLength(value, at))
            }
            guard at <= value.count else { throw DataflowError.invalidArgument("state row cut short at byte \(at) of \(value.count)") }
        }
        guard at == value.count else { throw DataflowError.invalidArgument("state row has \(value.count - at) trailing bytes") }
        chunk.appendOp(op)
        at = 0
        for (i, t) in types.enumerated() {
            if t.isInteger {
                chunk.appendInt(columns[i], readInt(value, at))
                at += 8
            } else {
                let n = Int(readLength(value, at))
                chunk.appendBytes(columns[i], UnsafeRawBufferPointer(rebasing: value[(at + 4)..<(at + 4 + n)]))
                at += 4 + n
            }
        }
    }

    /// The number of bytes the row of `types` at the start of `value` takes, or nil
    /// if it is cut short.
    public static func length(_ value: UnsafeRawBufferPointer, types: [ColumnType]) -> Int? {
        var at = 0
        for t in types {
            if t.isInteger {
                at += 8
            } else {
                guard at + 4 <= value.count else { return nil }
                at += 4 + Int(readLength(value, at))
            }
            guard at <= value.count else { return nil }
        }
        return at
    }

    /// Appends the fields of the row of `types` at the start of `value` to the chunk
    /// columns `mapping[i]` (a field whose mapping is negative is skipped); appends no
    /// op. The value must have been checked (`length`). Returns the bytes read.
    @discardableResult
    @inlinable public static func appendFields(_ value: UnsafeRawBufferPointer, types: [ColumnType], mapping: [Int], into chunk: inout Chunk) -> Int {
        var at = 0
        for i in types.indices {
            let c = mapping[i]
            if types[i].isInteger {
                if c >= 0 { chunk.appendInt(c, readInt(value, at)) }
                at += 8
            } else {
                let n = Int(readLength(value, at))
                if c >= 0 { chunk.appendBytes(c, UnsafeRawBufferPointer(rebasing: value[(at + 4)..<(at + 4 + n)])) }
                at += 4 + n
            }
        }
        return at
    }

    @inlinable public static func readInt(_ p: UnsafeRawBufferPointer, _ at: Int) -> Int64 {
        Int64(bitPattern: p.loadUnaligned(fromByteOffset: at, as: UInt64.self).littleEndian)
    }

    @inlinable public static func readLength(_ p: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        p.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian
    }
}
