import Floe

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
