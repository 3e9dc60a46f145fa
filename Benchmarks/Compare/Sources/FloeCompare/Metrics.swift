/// One figure of the comparison, measured once per engine per repetition.
struct Metric: Sendable {
    enum Better: String, Sendable { case higher, lower }

    let id: String
    let label: String
    let unit: String
    let better: Better
    /// Decimals when printed; nil prints a rounded, digit-grouped integer.
    let digits: Int?

    func text(_ v: Double) -> String {
        digits.map { NumberFormat.fixed(v, $0) } ?? NumberFormat.grouped(v)
    }

    static func all(batchKeys: Int, seekLength: Int) -> [Metric] {
        let batch = NumberFormat.grouped(Double(batchKeys))
        return [
            Metric(id: "fill", label: "fill, durable every \(batch) keys", unit: "keys/s", better: .higher, digits: nil),
            Metric(id: "readrandom_1t", label: "readrandom warm, 1 thread", unit: "gets/s", better: .higher, digits: nil),
            Metric(id: "readrandom_2t", label: "readrandom warm, 2 threads", unit: "gets/s", better: .higher, digits: nil),
            Metric(id: "readmissing", label: "readmissing, 1 thread", unit: "gets/s", better: .higher, digits: nil),
            Metric(id: "scan", label: "full scan, warm", unit: "keys/s", better: .higher, digits: nil),
            Metric(id: "seekrandom", label: "seekrandom + \(seekLength) keys", unit: "ops/s", better: .higher, digits: nil),
            Metric(id: "overwrite", label: "overwrite 50% + delete 20%", unit: "writes/s", better: .higher, digits: nil),
            Metric(id: "quiesce", label: "compact to quiescence", unit: "s", better: .lower, digits: 2),
            Metric(id: "write_amp_writes", label: "write amp, end of writes", unit: "x", better: .lower, digits: 2),
            Metric(id: "write_amp", label: "write amp, after quiescence", unit: "x", better: .lower, digits: 2),
            Metric(id: "space_amp", label: "space amp, after quiescence", unit: "x", better: .lower, digits: 3),
            Metric(id: "reopen", label: "reopen after SIGKILL to first get", unit: "ms", better: .lower, digits: 1),
        ]
    }
}

/// Everything one engine measured in one repetition: the metrics plus extra figures.
typealias Figures = [String: Double]

/// Medians per metric per engine, and Floe's ratio to the best peer.
struct Summary: Sendable {
    let metrics: [Metric]
    let engines: [EngineKind]
    let medians: [String: [EngineKind: Double]]

    init(metrics: [Metric], engines: [EngineKind], runs: [[EngineKind: Figures]]) {
        self.metrics = metrics
        self.engines = engines
        var m: [String: [EngineKind: Double]] = [:]
        for metric in metrics {
            for e in engines {
                let values = runs.compactMap { $0[e]?[metric.id] }
                if let med = median(values) { m[metric.id, default: [:]][e] = med }
            }
        }
        medians = m
    }

    /// Floe's (or `engine`'s) median over the best peer's (the highest, or the
    /// lowest where lower is better). Peers are the engines that are not Floe.
    func ratio(_ metric: Metric, of engine: EngineKind = .floe) -> Double? {
        guard let row = medians[metric.id], let floe = row[engine] else { return nil }
        let peers = engines.filter { !$0.isFloe }.compactMap { row[$0] }
        guard let best = metric.better == .higher ? peers.max() : peers.min(), best > 0 else { return nil }
        return floe / best
    }

    /// A Markdown table: readable in a terminal and pasteable into docs.
    func table() -> String {
        var header = ["workload", "unit", "better"] + engines.map(\.label)
        let hasPeers = engines.contains { !$0.isFloe }
        let ratios = [EngineKind.floe, .floeObvious].filter { engines.contains($0) && hasPeers }
        for e in ratios { header.append("\(e.label) / best peer") }
        var rows: [[String]] = []
        for metric in metrics {
            var row = [metric.label, metric.unit, metric.better.rawValue]
            for e in engines { row.append(medians[metric.id]?[e].map(metric.text) ?? "-") }
            for e in ratios { row.append(ratio(metric, of: e).map { NumberFormat.fixed($0, 2) + "x" } ?? "-") }
            rows.append(row)
        }
        return markdownTable(header: header, rows: rows, rightAlignedFrom: 3)
    }
}

func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func markdownTable(header: [String], rows: [[String]], rightAlignedFrom: Int) -> String {
    var width = header.map(\.count)
    for r in rows { for (i, c) in r.enumerated() { width[i] = max(width[i], c.count) } }
    func line(_ cells: [String]) -> String {
        let padded = cells.enumerated().map { i, c in
            let pad = String(repeating: " ", count: width[i] - c.count)
            return i >= rightAlignedFrom ? pad + c : c + pad
        }
        return "| " + padded.joined(separator: " | ") + " |"
    }
    let rule = "|" + width.enumerated().map { i, w in
        i >= rightAlignedFrom ? " " + String(repeating: "-", count: w - 1) + ": " : " " + String(repeating: "-", count: w) + " "
    }.joined(separator: "|") + "|"
    return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
}

/// Number text without Foundation.
enum NumberFormat {
    static func fixed(_ v: Double, _ digits: Int) -> String {
        guard v.isFinite else { return "\(v)" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let r = (abs(v) * scale).rounded()
        let whole = UInt64(r / scale)
        let frac = UInt64(r - Double(whole) * scale)
        var s = (v < 0 && r > 0 ? "-" : "") + "\(whole)"
        if digits > 0 {
            let f = "\(frac)"
            s += "." + String(repeating: "0", count: max(0, digits - f.count)) + f
        }
        return s
    }

    static func grouped(_ v: Double) -> String {
        guard v.isFinite else { return "\(v)" }
        let digits = Array("\(UInt64(abs(v).rounded()))")
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (v < 0 ? "-" : "") + out
    }

    /// Compact form for chart labels: 1.23M, 456k, 7.8.
    static func short(_ v: Double) -> String {
        let a = abs(v)
        if a >= 1e6 { return fixed(v / 1e6, 2) + "M" }
        if a >= 1e4 { return fixed(v / 1e3, 0) + "k" }
        if a >= 100 { return fixed(v, 0) }
        if a >= 10 { return fixed(v, 1) }
        return fixed(v, a >= 1 ? 2 : 3)
    }
}
