/// Writes CSV text (RFC 4180, LF line breaks): a field is quoted, with each `"`
/// doubled, when it holds `,`, `"`, CR or LF, or when it is the only field of its
/// row and empty (an empty line would be ambiguous to a reader); otherwise it is
/// written as is. What `CsvParser` reads back is exactly the fields written.
public struct CsvWriter: Sendable {
    /// The text written so far.
    public private(set) var bytes: [UInt8] = []
    private var fieldsInRow = 0
    private var rowStart = 0

    public init() {}

    /// Appends a field to the current row.
    public mutating func field(_ value: some Collection<UInt8>) {
        if fieldsInRow > 0 { bytes.append(UInt8(ascii: ",")) }
        fieldsInRow += 1
        if value.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0D || $0 == 0x0A }) {
            bytes.append(0x22)
            for c in value {
                bytes.append(c)
                if c == 0x22 { bytes.append(0x22) }
            }
            bytes.append(0x22)
        } else {
            bytes.append(contentsOf: value)
        }
    }

    public mutating func field(_ value: String) { field(value.utf8) }

    /// Ends the current row.
    public mutating func endRow() {
        if fieldsInRow == 1 && bytes.count == rowStart {
            bytes.append(0x22)
            bytes.append(0x22)
        }
        bytes.append(0x0A)
        fieldsInRow = 0
        rowStart = bytes.count
    }

    /// Appends a whole row.
    public mutating func row(_ fields: [String]) {
        for f in fields { field(f) }
        endRow()
    }

    /// Takes the text written so far, leaving the writer empty (keeping its capacity).
    public mutating func take() -> [UInt8] {
        let out = bytes
        bytes.removeAll(keepingCapacity: true)
        rowStart = 0
        fieldsInRow = 0
        return out
    }
}
