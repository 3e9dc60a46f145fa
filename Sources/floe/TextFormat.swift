import Floe

// Text formatting shared by the commands: numbers, rates, durations, aligned tables.

/// `v` with `digits` decimals.
func fmt(_ v: Double, _ digits: Int) -> String {
    NumberText.fixed(v, digits: digits)
}

/// `n` with thousands separators: `1,234,567`.
func grouped<I: BinaryInteger>(_ n: I) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return n < 0 ? "-" + out : out
}

/// A rate or count rounded to an integer, with thousands separators.
func grouped(_ v: Double) -> String {
    guard v.isFinite else { return "\(v)" }
    return grouped(Int64(v.rounded()))
}

/// A duration in nanoseconds with a unit that keeps three or four significant
/// digits: `0.35 µs`, `12.4 µs`, `3.21 ms`, `1.50 s`.
func durationText(nanos: Double) -> String {
    let us = nanos / 1000
    if us < 10 { return fmt(us, 2) + " µs" }
    if us < 1000 { return fmt(us, 1) + " µs" }
    let ms = us / 1000
    if ms < 10 { return fmt(ms, 2) + " ms" }
    if ms < 1000 { return fmt(ms, 1) + " ms" }
    return fmt(ms / 1000, 2) + " s"
}

/// Column-aligned plain-text tables for the inspection commands.
struct TextTable {
    enum Alignment { case left, right }

    struct Column {
        var title: String
        var alignment: Alignment
    }

    var columns: [Column]
    private(set) var rows: [[String]] = []

    /// Columns as `(title, alignment)` pairs.
    init(_ columns: [(String, Alignment)]) {
        self.columns = columns.map { Column(title: $0.0, alignment: $0.1) }
    }

    mutating func append(_ row: [String]) {
        rows.append(row)
    }

    /// The header and every row, columns separated by two spaces, trailing spaces trimmed.
    func render(indent: String = "") -> String {
        let all = [columns.map(\.title)] + rows
        var widths = [Int](repeating: 0, count: columns.count)
        for row in all {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        var lines: [String] = []
        for row in all {
            var line = indent
            for (i, cell) in row.enumerated() where i < widths.count {
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                if i > 0 { line += "  " }
                line += columns[i].alignment == .right ? pad + cell : cell + pad
            }
            while line.last == " " { line.removeLast() }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}

/// Label-value lines with the values aligned: `label   value`.
struct FieldList {
    private(set) var fields: [(String, String)] = []

    mutating func append(_ label: String, _ value: String) {
        fields.append((label, value))
    }

    func render(indent: String = "") -> String {
        let width = fields.map(\.0.count).max() ?? 0
        return fields.map { label, value in
            indent + label + String(repeating: " ", count: width - label.count + 2) + value
        }.joined(separator: "\n")
    }
}
