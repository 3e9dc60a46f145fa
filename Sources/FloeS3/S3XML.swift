/// One element of an S3 XML response: its local name (namespace prefix
/// dropped), child elements and the character data directly inside it.
struct S3XMLElement: Sendable, Equatable {
    var name: String
    var children: [S3XMLElement] = []
    var text: String = ""

    /// The first child named `name`.
    func child(_ name: String) -> S3XMLElement? { children.first { $0.name == name } }
    /// Every child named `name`, in document order.
    func children(_ name: String) -> [S3XMLElement] { children.filter { $0.name == name } }
    /// The text of the first child named `name`.
    func text(of name: String) -> String? { child(name)?.text }
}

/// A small XML reader for the documents S3 returns (ListBucketResult, Error,
/// InitiateMultipartUploadResult, CompleteMultipartUploadResult, DeleteResult):
/// elements, attributes (skipped), character data with the five predefined
/// entities and numeric references, CDATA sections, comments, processing
/// instructions and a DOCTYPE (skipped). Not a validating parser; malformed
/// input is an error, never a crash.
enum S3XML {
    struct ParseError: Error, CustomStringConvertible {
        var offset: Int
        var reason: String
        var description: String { "malformed XML at byte \(offset): \(reason)" }
    }

    /// Parses `bytes` and returns the root element.
    static func parse(_ bytes: [UInt8]) throws(ParseError) -> S3XMLElement {
        var parser = Parser(bytes: bytes)
        return try parser.document()
    }

    /// `s` with `& < > " '` escaped, for request bodies.
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(c)
            }
        }
        return out
    }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        func fail(_ reason: String) -> ParseError { ParseError(offset: i, reason: reason) }

        func starts(with s: String) -> Bool {
            let u = Array(s.utf8)
            return i + u.count <= bytes.count && bytes[i..<(i + u.count)].elementsEqual(u)
        }

        mutating func skip(past s: String) throws(ParseError) {
            let u = Array(s.utf8)
            while i + u.count <= bytes.count {
                if bytes[i..<(i + u.count)].elementsEqual(u) { i += u.count; return }
                i += 1
            }
            throw fail("unterminated construct, expected \(s)")
        }

        mutating func skipSpace() {
            while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
        }

        /// Skips prolog items (declaration, comments, PIs, DOCTYPE) before or after the root.
        mutating func skipMisc() throws(ParseError) {
            while true {
                skipSpace()
                if starts(with: "<?") { try skip(past: "?>") }
                else if starts(with: "<!--") { try skip(past: "-->") }
                else if starts(with: "<!DOCTYPE") { try skip(past: ">") }
                else { return }
            }
        }

        mutating func document() throws(ParseError) -> S3XMLElement {
            // A UTF-8 byte order mark.
            if starts(with: "\u{FEFF}") { i += 3 }
            try skipMisc()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "<") else { throw fail("expected the root element") }
            let root = try element()
            try skipMisc()
            if i != bytes.count { throw fail("content after the root element") }
            return root
        }

        mutating func name() throws(ParseError) -> String {
            let start = i
            while i < bytes.count {
                let b = bytes[i]
                if b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == UInt8(ascii: ">") || b == UInt8(ascii: "/")
                    || b == UInt8(ascii: "=") { break }
                i += 1
            }
            if start == i { throw fail("expected a name") }
            let full = String(decoding: bytes[start..<i], as: UTF8.self)
            if let colon = full.lastIndex(of: ":") { return String(full[full.index(after: colon)...]) }
            return full
        }

        /// Parses one element starting at its `<`.
        mutating func element() throws(ParseError) -> S3XMLElement {
            i += 1 // <
            var element = S3XMLElement(name: try name())
            // Attributes: skipped, but quoted values may hold `>` or `/`.
            while true {
                skipSpace()
                guard i < bytes.count else { throw fail("unterminated start tag <\(element.name)") }
                if bytes[i] == UInt8(ascii: "/") {
                    guard i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: ">") else { throw fail("expected /> in <\(element.name)") }
                    i += 2
                    return element
                }
                if bytes[i] == UInt8(ascii: ">") { i += 1; break }
                _ = try name()
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "=") else { throw fail("expected = in an attribute of <\(element.name)") }
                i += 1
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") || bytes[i] == UInt8(ascii: "'") else {
                    throw fail("expected a quoted attribute value in <\(element.name)")
                }
                let quote = bytes[i]
                i += 1
                while i < bytes.count, bytes[i] != quote { i += 1 }
                guard i < bytes.count else { throw fail("unterminated attribute value in <\(element.name)") }
                i += 1
            }
            // Content.
            var text: [UInt8] = []
            while true {
                guard i < bytes.count else { throw fail("unterminated element <\(element.name)>") }
                if bytes[i] == UInt8(ascii: "<") {
                    if starts(with: "</") {
                        i += 2
                        let end = try name()
                        skipSpace()
                        guard end == element.name, i < bytes.count, bytes[i] == UInt8(ascii: ">") else {
                            throw fail("</\(end)> does not close <\(element.name)>")
                        }
                        i += 1
                        element.text = String(decoding: text, as: UTF8.self)
                        return element
                    } else if starts(with: "<!--") {
                        try skip(past: "-->")
                    } else if starts(with: "<![CDATA[") {
                        i += 9
                        let start = i
                        try skip(past: "]]>")
                        text.append(contentsOf: bytes[start..<(i - 3)])
                    } else if starts(with: "<?") {
                        try skip(past: "?>")
                    } else {
                        element.children.append(try self.element())
                    }
                } else if bytes[i] == UInt8(ascii: "&") {
                    try entity(into: &text)
                } else {
                    text.append(bytes[i])
                    i += 1
                }
            }
        }

        mutating func entity(into text: inout [UInt8]) throws(ParseError) {
            let start = i
            while i < bytes.count, bytes[i] != UInt8(ascii: ";") {
                i += 1
                if i - start > 12 { throw fail("unterminated entity reference") }
            }
            guard i < bytes.count else { throw fail("unterminated entity reference") }
            let ref = String(decoding: bytes[(start + 1)..<i], as: UTF8.self)
            i += 1
            switch ref {
            case "amp": text.append(UInt8(ascii: "&"))
            case "lt": text.append(UInt8(ascii: "<"))
            case "gt": text.append(UInt8(ascii: ">"))
            case "quot": text.append(UInt8(ascii: "\""))
            case "apos": text.append(UInt8(ascii: "'"))
            default:
                var value: UInt32?
                if ref.hasPrefix("#x") || ref.hasPrefix("#X") { value = UInt32(ref.dropFirst(2), radix: 16) }
                else if ref.hasPrefix("#") { value = UInt32(ref.dropFirst(), radix: 10) }
                guard let value, let scalar = Unicode.Scalar(value) else { throw fail("unknown entity &\(ref);") }
                text.append(contentsOf: Array(String(Character(scalar)).utf8))
            }
        }
    }
}
