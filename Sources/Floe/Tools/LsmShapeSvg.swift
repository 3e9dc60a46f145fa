/// An SVG drawing of the LSM shape of one version (`floe stats --svg`): one row
/// per L0 sub-level, grouped under an `L0` heading, then one row per level
/// L1...Ln. Each SST is one `<rect>` whose width is proportional to its bytes,
/// with a tooltip naming it; files of a row alternate between two shades.
///
/// Hand-built text, no dependencies. Every text node and attribute is escaped,
/// so the result is well-formed XML whatever the keys hold.
package enum LsmShapeSvg {
    private static let margin = 16
    /// Monospace advance at font size 12, for sizing the label column.
    private static let charWidth = 7.3
    private static let rowHeight = 16
    private static let rowGap = 6
    private static let headerHeight = 56
    /// Fill shades (two per row kind) for L0 sub-levels and for levels.
    private static let l0Fills = ("#e8923a", "#f4c48e")
    private static let levelFills = ("#3f74b8", "#8db1e0")

    private enum Row {
        case heading(String)
        case run(label: String, ssts: [SstInfo], l0: Bool)
    }

    /// The drawing of `version`. The row with the most bytes is scaled to about
    /// `maxRowWidth` pixels; every SST is at least 1 pixel wide.
    package static func render(_ version: VersionSummary, maxRowWidth: Int = 1000) -> String {
        var rows: [Row] = []
        let l0 = version.l0Total
        if version.l0.isEmpty {
            rows.append(.run(label: "L0  empty", ssts: [], l0: true))
        } else {
            rows.append(.heading("L0  \(count(version.l0.count, "sub-level")), \(count(l0.fileCount, "file")), \(NumberText.bytes(l0.bytes))"))
            for r in version.l0 { rows.append(.run(label: label(r), ssts: r.ssts, l0: true)) }
        }
        for r in version.levels { rows.append(.run(label: label(r), ssts: r.ssts, l0: false)) }

        var longest = 0
        for row in rows {
            switch row {
            case let .heading(h): longest = max(longest, h.count)
            case let .run(label, _, _): longest = max(longest, label.count + 2)
            }
        }
        let labelWidth = max(160, Int(Double(longest) * charWidth) + 20)

        // One scale for every row, chosen so no row's files plus gaps pass maxRowWidth.
        var scale = Double.infinity
        for case let .run(_, ssts, _) in rows where !ssts.isEmpty {
            let bytes = ssts.reduce(0) { $0 + $1.fileSize }
            let budget = max(Double(maxRowWidth) / 10, Double(maxRowWidth - gap(ssts.count) * (ssts.count - 1)))
            if bytes > 0 { scale = min(scale, budget / Double(bytes)) }
        }
        if !scale.isFinite { scale = 0 }

        var body = ""
        var widest = 0
        var y = margin + headerHeight
        var l0Rows = 0..<0
        for (i, row) in rows.enumerated() {
            switch row {
            case let .heading(heading):
                body += text(x: margin, y: y + 12, heading, bold: true)
                l0Rows = (i + 1)..<(i + 1 + version.l0.count)
            case let .run(label, ssts, isL0):
                // L0 sub-levels sit indented under their heading.
                let subLevel = isL0 && !version.l0.isEmpty
                body += text(x: margin + (subLevel ? 14 : 0), y: y + 12, label, bold: !subLevel)
                var x = margin + labelWidth
                let fills = isL0 ? l0Fills : levelFills
                for (j, s) in ssts.enumerated() {
                    let w = max(1, Int((Double(s.fileSize) * scale).rounded()))
                    body += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(w)\" height=\"\(rowHeight)\" fill=\"\(j % 2 == 0 ? fills.0 : fills.1)\">"
                        + "<title>\(escape(tooltip(s)))</title></rect>\n"
                    x += w + gap(ssts.count)
                }
                widest = max(widest, x - margin - labelWidth)
            }
            y += rowHeight + rowGap
        }
        // A bracket joining the L0 sub-level rows to their heading.
        if !l0Rows.isEmpty {
            let top = margin + headerHeight + (l0Rows.lowerBound - 1) * (rowHeight + rowGap) + rowHeight
            let bottom = margin + headerHeight + (l0Rows.upperBound - 1) * (rowHeight + rowGap) + rowHeight / 2
            body += "<path d=\"M \(margin + 4) \(top + 2) V \(bottom) H \(margin + 10)\" fill=\"none\" stroke=\"#999999\"/>\n"
        }

        let total = version.total
        let writeAmp = LsmAmplification(version, live: nil).write.map { NumberText.fixed($0, digits: 2) } ?? "-"
        let width = margin * 2 + labelWidth + max(widest, maxRowWidth / 2)
        let height = y + margin
        var svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" "
            + "font-family=\"monospace\" font-size=\"12\">\n"
        svg += text(x: margin, y: margin + 14, "Floe LSM shape: committed epoch \(version.committedEpoch), write amp \(writeAmp), "
            + "total \(NumberText.bytes(total.bytes)) in \(count(total.fileCount, "SST"))", bold: true, size: 15)
        let pxPerMiB = scale * 1_048_576
        svg += text(x: margin, y: margin + 36, "manifest sequence \(version.sequence), safe epoch \(version.safeEpoch); "
            + "width proportional to SST bytes" + (scale > 0 ? " (\(NumberText.fixed(pxPerMiB, digits: pxPerMiB < 10 ? 3 : 1)) px per MiB)" : ""),
            bold: false, size: 11)
        svg += body
        svg += "</svg>\n"
        return svg
    }

    private static func gap(_ files: Int) -> Int { files <= 100 ? 2 : (files <= 300 ? 1 : 0) }

    private static func label(_ r: SstRunSummary) -> String {
        r.fileCount == 0 ? "\(r.name)  empty" : "\(r.name)  \(count(r.fileCount, "file")), \(NumberText.bytes(r.bytes))"
    }

    private static func count(_ n: Int, _ singular: String) -> String { "\(n) \(singular)\(n == 1 ? "" : "s")" }

    private static func tooltip(_ s: SstInfo) -> String {
        let epochs = s.minEpoch == s.maxEpoch ? "epoch \(s.minEpoch)" : "epochs \(s.minEpoch)...\(s.maxEpoch)"
        return "\(s.path): \(NumberText.bytes(s.fileSize)), \(s.entryCount) entries, \(epochs), "
            + "\(KeyText.describe(s.smallestKey)) ... \(KeyText.describe(s.largestKey))"
    }

    private static func text(x: Int, y: Int, _ s: String, bold: Bool, size: Int? = nil) -> String {
        "<text x=\"\(x)\" y=\"\(y)\"" + (bold ? " font-weight=\"bold\"" : "") + (size.map { " font-size=\"\($0)\"" } ?? "")
            + ">\(escape(s))</text>\n"
    }

    /// `s` safe inside an XML text node or a quoted attribute.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            // Control characters are not allowed in XML 1.0 at all.
            case _ where c.value < 0x20 && c != "\t" && c != "\n": out += "?"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
