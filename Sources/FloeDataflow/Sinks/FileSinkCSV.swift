/// The CSV dialect of `FileSink` files, on bytes (fields are raw bytes, so any
/// string value round-trips, UTF-8 or not).
///
/// Writing: fields are separated by `,` and records end with `\n`. A field is
/// quoted (`"` around it, each `"` inside doubled) exactly when it contains a
/// `,`, a `"`, a `\r` or a `\n`; every other field is written as is, the empty
/// field included.
///
/// Reading accepts exactly that, plus `\r\n` record ends. It rejects a `"`
/// inside an unquoted field, text after a closing quote other than `,` or the
/// record end, an unterminated quote, and a last record without its `\n` (a
/// file cut short).
enum FileSinkCSV {
    /// One record read back, with the line (from 1) it starts on.
    struct Record {
        var line: Int
        var fields: [[UInt8]]
    }

    /// A file that is not valid sink CSV: the line of the problem and what it is.
    struct Malformed: Error {
        var line: Int
        var reason: String
    }

    private static let comma = UInt8(ascii: ","), quote = UInt8(ascii: "\""),
        newline = UInt8(ascii: "\n"), carriageReturn = UInt8(ascii: "\r")

    /// Appends `field`, quoted if it needs to be.
    static func appendField(_ out: inout [UInt8], _ field: some Collection<UInt8>) {
        guard field.contains(where: { $0 == comma || $0 == quote || $0 == newline || $0 == carriageReturn }) else {
            out.append(contentsOf: field)
            return
        }
        out.append(quote)
        for b in field {
            if b == quote { out.append(quote) }
            out.append(b)
        }
        out.append(quote)
    }

    /// Appends a whole record: the fields, separated by commas, then `\n`.
    static func appendRecord(_ out: inout [UInt8], _ fields: [[UInt8]]) {
        for (i, f) in fields.enumerated() {
            if i > 0 { out.append(comma) }
            appendField(&out, f)
        }
        out.append(newline)
    }

    /// Every record of `bytes`, in order.
    static func records(_ bytes: [UInt8]) throws(Malformed) -> [Record] {
        var records: [Record] = []
        var line = 1
        var i = 0
        let n = bytes.count
        while i < n {
            let start = line
            var fields: [[UInt8]] = []
            var field: [UInt8] = []
            recordLoop: while true {
                if i < n, bytes[i] == quote {
                    // A quoted field: up to the quote not followed by another.
                    i += 1
                    while true {
                        guard i < n else { throw Malformed(line: start, reason: "the file is cut short inside a quoted field") }
                        let b = bytes[i]
                        if b == quote {
                            if i + 1 < n, bytes[i + 1] == quote {
                                field.append(quote)
                                i += 2
                                continue
                            }
                            i += 1
                            break
                        }
                        if b == newline { line += 1 }
                        field.append(b)
                        i += 1
                    }
                    guard i < n else { throw Malformed(line: line, reason: "the file is cut short inside a record (no final newline)") }
                    if bytes[i] == carriageReturn, i + 1 < n, bytes[i + 1] == newline { i += 1 }
                    guard bytes[i] == comma || bytes[i] == newline else {
                        throw Malformed(line: line, reason: "text after a closing quote")
                    }
                } else {
                    while i < n, bytes[i] != comma, bytes[i] != newline {
                        guard bytes[i] != quote else { throw Malformed(line: line, reason: "a quote inside an unquoted field") }
                        field.append(bytes[i])
                        i += 1
                    }
                    guard i < n else { throw Malformed(line: line, reason: "the file is cut short inside a record (no final newline)") }
                    if bytes[i] == newline, field.last == carriageReturn { field.removeLast() }
                }
                fields.append(field)
                field = []
                let separator = bytes[i]
                i += 1
                if separator == newline {
                    line += 1
                    break recordLoop
                }
            }
            records.append(Record(line: start, fields: fields))
        }
        return records
    }
}
