/// What one benchmark measured: a row of the report, detail lines, and extra JSON fields.
struct BenchResult {
    /// Row name: the benchmark, or `recovery/1000000` for one recovery size.
    var name: String
    /// Operations timed (gets, puts, scans, rows scanned, ...).
    var ops: Int
    /// Wall-clock seconds of the timed phase.
    var seconds: Double
    /// Key + value bytes moved, for MB/s; nil where a rate of bytes means nothing.
    var bytes: Int?
    /// Per-operation latencies, if measured, and what they are of (`get`, `put`, `commit`, ...).
    var latency: LatencyHistogram?
    var latencyOf: String = ""
    /// Whether ops/s is a meaningful figure for this row (not for a single timed open).
    var showsRate = true
    /// Human-readable lines printed under the benchmark as it completes.
    var details: [String] = []
    /// Extra figures for `--json` (write amplification, writes/s, ...).
    var extra: [(String, JSONValue)] = []

    init(name: String, ops: Int, seconds: Double) {
        self.name = name
        self.ops = ops
        self.seconds = seconds
    }

    var opsPerSecond: Double { seconds > 0 ? Double(ops) / seconds : 0 }
    var microsPerOp: Double { ops > 0 ? seconds * 1e6 / Double(ops) : 0 }
    var megabytesPerSecond: Double? { bytes.map { seconds > 0 ? Double($0) / 1_048_576 / seconds : 0 } }
}
