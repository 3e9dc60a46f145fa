/// A minimal JSON document builder for `--json` output: ordered object keys,
/// integers printed exactly, strings escaped per RFC 8259.
enum JSONValue: Sendable {
    case string(String)
    case int(Int64)
    case uint(UInt64)
    /// A finite number in Swift's shortest round-tripping form; NaN and infinities render as null.
    case double(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// `.null` for nil, the value otherwise.
    static func optional(_ v: JSONValue?) -> JSONValue { v ?? .null }

    /// The document, indented by two spaces per level.
    func render(indent: Int = 0) -> String {
        let pad = String(repeating: "  ", count: indent)
        let inner = String(repeating: "  ", count: indent + 1)
        switch self {
        case let .string(s): return JSONValue.quote(s)
        case let .int(v): return String(v)
        case let .uint(v): return String(v)
        case let .double(v): return v.isFinite ? String(v) : "null"
        case let .bool(b): return b ? "true" : "false"
        case .null: return "null"
        case let .array(items):
            if items.isEmpty { return "[]" }
            // Arrays of scalars stay on one line.
            if items.allSatisfy(\.isScalar) { return "[" + items.map { $0.render() }.joined(separator: ", ") + "]" }
            return "[\n" + items.map { inner + $0.render(indent: indent + 1) }.joined(separator: ",\n") + "\n" + pad + "]"
        case let .object(fields):
            if fields.isEmpty { return "{}" }
            return "{\n" + fields.map { inner + JSONValue.quote($0.0) + ": " + $0.1.render(indent: indent + 1) }
                .joined(separator: ",\n") + "\n" + pad + "}"
        }
    }

    private var isScalar: Bool {
        switch self {
        case .array, .object: false
        default: true
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
