import Floe

/// Every error the dataflow layer throws itself. Store errors (`FloeError`) pass
/// through unchanged.
public enum DataflowError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidArgument(String)
    /// A column name that the schema does not have.
    case unknownColumn(String, available: [String])
    /// A value that does not parse as its column's type: where it came from (a file
    /// and line, or a topic, partition and offset), the column and the text.
    case malformedValue(location: String, column: String, type: String, text: String)
    /// A row with the wrong number of fields, or bad CSV quoting.
    case malformedRow(location: String, reason: String)
    /// A log segment that fails its checksum or is cut short before its last record.
    case damagedLog(object: String, offset: Int, reason: String)
    /// Another appender created the segment at `offset` of a log partition first
    /// (two appenders raced for the same end offset). Nothing of this append was
    /// written to that partition; list the end offsets again and retry.
    case appendConflict(topic: String, partition: Int, offset: UInt64)
    /// A view, topic or pipeline name that is not known.
    case unknown(kind: String, name: String, known: [String])
    /// A sink that cannot deliver (its database or directory failed).
    case sink(String)
    /// Arithmetic overflow in an aggregate (a sum past the 64-bit range).
    case overflow(String)
    /// The pipeline was stopped.
    case cancelled

    public var description: String {
        switch self {
        case let .invalidArgument(m): return "invalid argument: \(m)"
        case let .unknownColumn(c, available): return "unknown column \"\(c)\" (columns: \(available.joined(separator: ", ")))"
        case let .malformedValue(loc, col, type, text): return "\(loc): column \(col): \"\(text)\" is not a valid \(type)"
        case let .malformedRow(loc, reason): return "\(loc): \(reason)"
        case let .damagedLog(object, offset, reason): return "damaged log segment \(object) at byte \(offset): \(reason)"
        case let .appendConflict(topic, partition, offset):
            return "topic \(topic) partition \(partition): another appender wrote offset \(offset) first; re-read the end offsets and append again"
        case let .unknown(kind, name, known): return "unknown \(kind) \"\(name)\" (known: \(known.joined(separator: ", ")))"
        case let .sink(m): return "sink: \(m)"
        case let .overflow(m): return "overflow: \(m)"
        case .cancelled: return "cancelled"
        }
    }
}
