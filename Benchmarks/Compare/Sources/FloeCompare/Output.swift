/// A JSON value built in order and rendered as text (no Foundation needed).
indirect enum JSON {
    case number(Double)
    case string(String)
    case bool(Bool)
    case array([JSON])
    case object([(String, JSON)])

    func render(indent: String = "") -> String {
        let inner = indent + "  "
        switch self {
        case .number(let v):
            guard v.isFinite else { return "null" }
            return v == v.rounded() && abs(v) < 1e15 ? "\(Int64(v))" : "\(v)"
        case .string(let s): return JSON.quote(s)
        case .bool(let b): return b ? "true" : "false"
        case .array(let a):
            if a.isEmpty { return "[]" }
            return "[\n" + a.map { inner + $0.render(indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        case .object(let o):
            if o.isEmpty { return "{}" }
            return "{\n" + o.map { inner + JSON.quote($0.0) + ": " + $0.1.render(indent: inner) }.joined(separator: ",\n") + "\n" + indent + "}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

/// Simple bar charts as SVG text: one panel per metric (each on its own scale),
/// one labelled bar per engine.
struct SVGChart {
    let title: String
    let subtitle: String
    let summary: Summary

    static func color(_ e: EngineKind) -> String {
        switch e {
        case .floe: "#2b6cb0"
        case .floeObvious: "#90cdf4"
        case .rocksdb: "#dd6b20"
        case .leveldb: "#38a169"
        }
    }

    func render() -> String {
        let columns = 3, panelW = 320, panelH = 210, top = 92
        let rows = (summary.metrics.count + columns - 1) / columns
        let width = columns * panelW + 20, height = top + rows * panelH + 10
        var s = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" font-family="Helvetica, Arial, sans-serif">
        <rect x="0" y="0" width="\(width)" height="\(height)" fill="#ffffff"/>
        <text x="10" y="26" font-size="18" font-weight="bold">\(escape(title))</text>
        <text x="10" y="46" font-size="12" fill="#444444">\(escape(subtitle))</text>

        """
        var lx = 10
        for e in summary.engines {
            s += "<rect x=\"\(lx)\" y=\"60\" width=\"14\" height=\"14\" fill=\"\(Self.color(e))\"/>"
            s += "<text x=\"\(lx + 20)\" y=\"72\" font-size=\"13\">\(escape(e.label))</text>\n"
            lx += 110
        }
        for (i, metric) in summary.metrics.enumerated() {
            let px = 10 + (i % columns) * panelW, py = top + (i / columns) * panelH
            s += panel(metric, x: px, y: py, w: panelW - 20, h: panelH - 20)
        }
        return s + "</svg>\n"
    }

    private func panel(_ metric: Metric, x: Int, y: Int, w: Int, h: Int) -> String {
        var s = "<g>\n<rect x=\"\(x)\" y=\"\(y)\" width=\"\(w)\" height=\"\(h)\" fill=\"#f7f7f7\" stroke=\"#dddddd\"/>\n"
        s += "<text x=\"\(x + 8)\" y=\"\(y + 18)\" font-size=\"12\" font-weight=\"bold\">\(escape(metric.label))</text>\n"
        var sub = "\(metric.unit), \(metric.better) is better"
        if let r = summary.ratio(metric) { sub += "; Floe / best peer \(NumberFormat.fixed(r, 2))x" }
        s += "<text x=\"\(x + 8)\" y=\"\(y + 34)\" font-size=\"11\" fill=\"#555555\">\(escape(sub))</text>\n"
        let values = summary.engines.map { summary.medians[metric.id]?[$0] }
        let maxV = values.compactMap { $0 }.max() ?? 0
        let baseY = y + h - 24, plotH = h - 24 - 60
        let n = summary.engines.count
        let slot = (w - 20) / max(1, n), barW = min(60, slot - 20)
        s += "<line x1=\"\(x + 10)\" y1=\"\(baseY)\" x2=\"\(x + w - 10)\" y2=\"\(baseY)\" stroke=\"#888888\"/>\n"
        for (j, e) in summary.engines.enumerated() {
            let cx = x + 10 + j * slot + slot / 2
            s += "<text x=\"\(cx)\" y=\"\(baseY + 16)\" font-size=\"11\" text-anchor=\"middle\">\(escape(e.label))</text>\n"
            guard let v = values[j] else {
                s += "<text x=\"\(cx)\" y=\"\(baseY - 4)\" font-size=\"11\" text-anchor=\"middle\">n/a</text>\n"
                continue
            }
            let bh = maxV > 0 ? max(1, Int((v / maxV) * Double(plotH))) : 1
            s += "<rect x=\"\(cx - barW / 2)\" y=\"\(baseY - bh)\" width=\"\(barW)\" height=\"\(bh)\" fill=\"\(Self.color(e))\"/>\n"
            s += "<text x=\"\(cx)\" y=\"\(baseY - bh - 4)\" font-size=\"11\" text-anchor=\"middle\">\(escape(NumberFormat.short(v)))</text>\n"
        }
        return s + "</g>\n"
    }

    private func escape(_ t: String) -> String {
        var out = ""
        for c in t {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
