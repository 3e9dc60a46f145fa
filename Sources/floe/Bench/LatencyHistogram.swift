import Histogram

/// Per-operation latencies in nanoseconds, recorded in an HdrHistogram (three
/// significant digits, values up to an hour). Each worker records into its own
/// histogram; `merge` folds them together at the end of a phase.
struct LatencyHistogram: Sendable {
    private var histogram = Histogram<UInt64>(
        lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)

    /// The percentiles every report shows.
    static let reportedPercentiles: [(label: String, percentile: Double)] = [
        ("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9),
    ]

    var count: UInt64 { histogram.totalCount }
    var isEmpty: Bool { histogram.totalCount == 0 }

    @inline(__always)
    mutating func record(nanos: UInt64) {
        histogram.record(max(1, nanos))
    }

    /// Records the time since `start` (from `Timer.nanos()`).
    @inline(__always)
    mutating func record(since start: UInt64) {
        record(nanos: Timer.nanos() &- start)
    }

    mutating func merge(_ other: LatencyHistogram) {
        histogram.add(other.histogram)
    }

    /// The latency at `percentile` (0...100), in nanoseconds.
    func nanos(atPercentile percentile: Double) -> UInt64 {
        histogram.valueAtPercentile(percentile)
    }

    var maxNanos: UInt64 { histogram.max }
    var meanNanos: Double { histogram.mean }

    /// `p50 1.20 µs, p90 ..., max ...`.
    var summary: String {
        guard !isEmpty else { return "no samples" }
        let parts = Self.reportedPercentiles.map { "\($0.label) \(durationText(nanos: Double(nanos(atPercentile: $0.percentile))))" }
        return (parts + ["max \(durationText(nanos: Double(maxNanos)))"]).joined(separator: ", ")
    }

    /// Count, mean, percentiles and max in microseconds, for `--json`.
    var json: JSONValue {
        var fields: [(String, JSONValue)] = [("count", .uint(count)), ("mean_us", .double(meanNanos / 1000))]
        for p in Self.reportedPercentiles {
            fields.append((p.label + "_us", .double(Double(nanos(atPercentile: p.percentile)) / 1000)))
        }
        fields.append(("max_us", .double(Double(maxNanos) / 1000)))
        return .object(fields)
    }
}
