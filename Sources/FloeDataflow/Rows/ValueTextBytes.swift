/// `ValueText`'s text forms written straight into a byte buffer, for the
/// generators' CSV writers (no `String` per value). Each appends exactly the
/// bytes of the `ValueText` formatter it names.
extension ValueText {
    /// `String(v)`: an integer in decimal, with a `-` when negative.
    static func appendDecimal(_ v: Int64, to out: inout [UInt8]) {
        guard v >= 0 else {
            guard v != .min else {
                out.append(contentsOf: String(v).utf8)
                return
            }
            out.append(0x2D)
            appendDecimal(-v, to: &out)
            return
        }
        var digits = 1
        var p: Int64 = 10
        while digits < 19 && v >= p {
            digits += 1
            p &*= 10
        }
        appendDigits(v, digits, to: &out)
    }

    /// The last `n` decimal digits of non-negative `v`, zero-padded.
    static func appendDigits(_ v: Int64, _ n: Int, to out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(0x30, count: n))
        var x = v
        var k = start + n - 1
        while k >= start {
            out[k] = 0x30 + UInt8(x % 10)
            x /= 10
            k -= 1
        }
    }

    /// `formatTimestamp(micros)`, in bytes, for years 1000 ... 9999 (others go
    /// through the text formatter).
    static func appendTimestamp(_ micros: Int64, to out: inout [UInt8]) {
        guard micros >= 0 else {
            out.append(contentsOf: formatTimestamp(micros).utf8)
            return
        }
        let seconds = micros / 1_000_000, fraction = micros % 1_000_000
        let (y, m, d) = civilDate(daysSinceEpoch: seconds / 86_400)
        guard (1000...9999).contains(y) else {
            out.append(contentsOf: formatTimestamp(micros).utf8)
            return
        }
        let s = seconds % 86_400
        appendDigits(y, 4, to: &out)
        out.append(0x2D)
        appendDigits(m, 2, to: &out)
        out.append(0x2D)
        appendDigits(d, 2, to: &out)
        out.append(0x20)
        appendDigits(s / 3600, 2, to: &out)
        out.append(0x3A)
        appendDigits(s / 60 % 60, 2, to: &out)
        out.append(0x3A)
        appendDigits(s % 60, 2, to: &out)
        if fraction != 0 {
            out.append(0x2E)
            appendDigits(fraction, 6, to: &out)
        }
    }
}
