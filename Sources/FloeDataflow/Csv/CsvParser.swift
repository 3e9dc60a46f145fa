/// Splits CSV text into records (RFC 4180): fields separated by `,`, records
/// by LF or CRLF; a field that starts with `"` is quoted and may hold `,`, CR,
/// LF and `""` (one quote). A UTF-8 byte order mark at the start is skipped;
/// the last record may end without a line break. Any byte, zero included, may
/// appear in a field.
///
/// Strict where RFC 4180 is: a quote inside an unquoted field, anything but
/// `,` or a line break after a closing quote, a CR not followed by LF outside
/// quotes and a quoted field left open at the end of the input are all
/// `DataflowError.malformedRow` at `"FILE:LINE"`: the line the record starts on,
/// or, for an unclosed quote, the line it opens on. Lines count LFs, those in
/// quoted fields included.
public struct CsvParser: Sendable {
    public let file: String
    private let text: [UInt8]
    private var at: Int
    private var line = 1
    /// The line the record last returned by `next` starts on (1-based).
    public private(set) var recordLine = 1

    public init(_ text: [UInt8], file: String) {
        self.text = text
        self.file = file
        at = text.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
    }

    /// True when no record is left.
    public var atEnd: Bool { at >= text.count }

    /// Reads the next record into `fields` (replacing what it held). Returns false
    /// at the end of the input. Throws `DataflowError.malformedRow`.
    public mutating func next(into fields: inout CsvFields) throws -> Bool {
        fields.removeAll()
        guard at < text.count else { return false }
        recordLine = line
        let (newAt, newLine, failure) = text.withUnsafeBufferPointer { b in
            Self.record(b, from: at, line: line, into: &fields)
        }
        at = newAt
        line = newLine
        if let (failureLine, reason) = failure {
            at = text.count // a malformed record ends the parse
            throw DataflowError.malformedRow(location: "\(file):\(failureLine)", reason: reason)
        }
        return true
    }

    private static let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")

    /// Parses one record starting at `start`; returns where the next starts, the
    /// line it starts on, and the line and reason of a failure.
    private static func record(_ b: UnsafeBufferPointer<UInt8>, from start: Int, line startLine: Int,
                               into fields: inout CsvFields) -> (Int, Int, (Int, String)?) {
        var i = start
        var line = startLine
        let n = b.count
        while true {
            if i < n && b[i] == quote {
                let opened = line
                i += 1
                while true {
                    var j = i
                    while j < n && b[j] != quote {
                        if b[j] == lf { line += 1 }
                        j += 1
                    }
                    guard j < n else { return (n, line, (opened, "quoted field opened on this line is never closed")) }
                    fields.append(UnsafeBufferPointer(rebasing: b[i..<j]))
                    i = j + 1
                    if i < n && b[i] == quote {
                        fields.append(quote)
                        i += 1
                        continue
                    }
                    break
                }
                guard i == n || b[i] == comma || b[i] == lf || b[i] == cr else {
                    return (n, line, (line, "unexpected \(describe(b[i])) after a closing quote (a quote inside a quoted field is written \"\")"))
                }
            } else {
                var j = i
                while j < n {
                    let c = b[j]
                    if c == comma || c == lf || c == cr { break }
                    if c == quote {
                        return (n, line, (line, "quote inside an unquoted field (quote the whole field and write the quote as \"\")"))
                    }
                    j += 1
                }
                fields.append(UnsafeBufferPointer(rebasing: b[i..<j]))
                i = j
            }
            fields.endField()
            if i == n { return (n, line, nil) }
            switch b[i] {
            case comma:
                i += 1
            case lf:
                return (i + 1, line + 1, nil)
            default: // CR
                guard i + 1 < n, b[i + 1] == lf else {
                    return (n, line, (line, "carriage return not followed by a line feed outside quotes"))
                }
                return (i + 2, line + 1, nil)
            }
        }
    }

    private static func describe(_ c: UInt8) -> String {
        c >= 0x20 && c < 0x7F ? "\"\(Character(Unicode.Scalar(c)))\"" : "byte 0x\(String(c, radix: 16))"
    }
}
