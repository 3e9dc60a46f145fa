/// The results of a `floe bench` run: the aligned table on stdout and the `--json` document.
struct BenchReport {
    var results: [BenchResult] = []

    /// One row per result: ops, time, ops/s, µs/op, MB/s and p50/p99 latency where measured.
    func table() -> String {
        var t = TextTable([
            ("benchmark", .left), ("ops", .right), ("time", .right), ("ops/s", .right), ("µs/op", .right),
            ("MB/s", .right), ("latency of", .left), ("p50", .right), ("p99", .right),
        ])
        for r in results {
            let lat = r.latency.flatMap { $0.isEmpty ? nil : $0 }
            t.append([
                r.name,
                grouped(r.ops),
                durationText(nanos: r.seconds * 1e9),
                r.showsRate ? grouped(r.opsPerSecond) : "-",
                r.showsRate ? fmt(r.microsPerOp, r.microsPerOp < 100 ? 3 : 1) : "-",
                r.megabytesPerSecond.map { fmt($0, 1) } ?? "-",
                lat == nil ? "-" : r.latencyOf,
                lat.map { durationText(nanos: Double($0.nanos(atPercentile: 50))) } ?? "-",
                lat.map { durationText(nanos: Double($0.nanos(atPercentile: 99))) } ?? "-",
            ])
        }
        return t.render()
    }

    /// `{"config": ..., "results": [...]}`.
    func json(config: JSONValue) -> JSONValue {
        .object([
            ("tool", .string("floe bench")),
            ("config", config),
            ("results", .array(results.map(Self.json))),
        ])
    }

    private static func json(_ r: BenchResult) -> JSONValue {
        var fields: [(String, JSONValue)] = [
            ("name", .string(r.name)), ("ops", .int(Int64(r.ops))), ("seconds", .double(r.seconds)),
            ("ops_per_sec", r.showsRate ? .double(r.opsPerSecond) : .null), ("micros_per_op", .double(r.microsPerOp)),
            ("mb_per_sec", r.megabytesPerSecond.map { .double($0) } ?? .null),
        ]
        if let l = r.latency, !l.isEmpty {
            fields.append(("latency_of", .string(r.latencyOf)))
            fields.append(("latency", l.json))
        }
        return .object(fields + r.extra)
    }
}
