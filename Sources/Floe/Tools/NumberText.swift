/// Numbers as text for tools (`floe` output, the LSM shape drawing): fixed
/// decimals and human byte sizes, without Foundation. Not used on any hot path.
package enum NumberText {
    /// `value` with exactly `digits` (0...9) digits after the point, rounded half
    /// away from zero. Non-finite values and values too large to scale exactly fall
    /// back to Swift's own description.
    package static func fixed(_ value: Double, digits: Int) -> String {
        let d = Swift.max(0, Swift.min(digits, 9))
        var scale: UInt64 = 1
        for _ in 0..<d { scale *= 10 }
        let scaled = (Swift.abs(value) * Double(scale)).rounded()
        guard value.isFinite, scaled < 9e18 else { return "\(value)" }
        let n = UInt64(scaled)
        var s = value < 0 && n != 0 ? "-" : ""
        s += String(n / scale)
        if d > 0 {
            let frac = String(n % scale)
            s += "." + String(repeating: "0", count: d - frac.count) + frac
        }
        return s
    }

    /// `1234 B`, `1.21 KiB`, `35.0 MiB`: three significant digits from KiB up.
    package static func bytes<I: BinaryInteger>(_ n: I) -> String {
        let v = Double(n)
        if Swift.abs(v) < 1024 { return "\(n) B" }
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB"]
        var scaled = v / 1024, unit = 0
        while Swift.abs(scaled) >= 1024 && unit < units.count - 1 {
            scaled /= 1024
            unit += 1
        }
        return fixed(scaled, digits: Swift.abs(scaled) < 10 ? 2 : 1) + " " + units[unit]
    }
}
