/// Text forms of integer-like values, as CSV files and dumps carry them:
/// int64 in decimal; a decimal of scale s as `[-]digits.digits` with exactly s
/// digits after the point (parsing accepts fewer and pads); a timestamp as
/// `YYYY-MM-DD HH:MM:SS` in UTC, with `.ffffff` when it has microseconds
/// (parsing accepts 1 to 6 fraction digits).
///
/// Parsing works on bytes and does not allocate: the log source calls it for
/// every field of every row.
public enum ValueText {
    public static func format(_ v: Int64, _ type: ColumnType) -> String {
        switch type {
        case .int64, .bytes: return String(v)
        case let .decimal(s): return formatDecimal(v, scale: s)
        case .timestamp: return formatTimestamp(v)
        }
    }

    /// Parses `text` as `type` (an integer-like type). Nil when it does not parse.
    @inlinable public static func parse(_ text: UnsafeRawBufferPointer, _ type: ColumnType) -> Int64? {
        switch type {
        case .int64: return parseInt(text)
        case let .decimal(s): return parseDecimal(text, scale: s)
        case .timestamp: return parseTimestamp(text)
        case .bytes: return nil
        }
    }

    public static func parse(_ text: String, _ type: ColumnType) -> Int64? {
        var t = text
        return t.withUTF8 { parse(UnsafeRawBufferPointer($0), type) }
    }

    @inlinable public static func parseInt(_ t: UnsafeRawBufferPointer) -> Int64? {
        var i = 0
        var negative = false
        if i < t.count, t[i] == UInt8(ascii: "-") || t[i] == UInt8(ascii: "+") {
            negative = t[i] == UInt8(ascii: "-")
            i += 1
        }
        guard i < t.count else { return nil }
        var v: Int64 = 0
        while i < t.count {
            let d = t[i] &- 48
            guard d < 10 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = negative ? m.subtractingReportingOverflow(Int64(d)) : m.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            v = a
            i += 1
        }
        return v
    }

    public static let powersOfTen: [Int64] = (0...18).map { p in (0..<p).reduce(Int64(1)) { a, _ in a * 10 } }

    @inlinable public static func parseDecimal(_ t: UnsafeRawBufferPointer, scale: Int) -> Int64? {
        var i = 0
        var negative = false
        if i < t.count, t[i] == UInt8(ascii: "-") || t[i] == UInt8(ascii: "+") {
            negative = t[i] == UInt8(ascii: "-")
            i += 1
        }
        var v: Int64 = 0
        var digits = 0, fraction = -1
        while i < t.count {
            let c = t[i]
            if c == UInt8(ascii: ".") {
                guard fraction < 0 else { return nil }
                fraction = 0
            } else {
                let d = c &- 48
                guard d < 10 else { return nil }
                if fraction >= 0 {
                    fraction += 1
                    guard fraction <= scale else { return nil }
                }
                // Accumulated with the sign, as in parseInt, so Int64.min parses.
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (a, o2) = negative ? m.subtractingReportingOverflow(Int64(d)) : m.addingReportingOverflow(Int64(d))
                guard !o1, !o2 else { return nil }
                v = a
                digits += 1
            }
            i += 1
        }
        guard digits > 0 else { return nil }
        let (scaled, o) = v.multipliedReportingOverflow(by: powersOfTen[scale - max(fraction, 0)])
        guard !o else { return nil }
        return scaled
    }

    public static func formatDecimal(_ v: Int64, scale: Int) -> String {
        if scale == 0 { return String(v) }
        let negative = v < 0
        let m = v.magnitude
        let p = UInt64(powersOfTen[scale])
        var frac = String(m % p)
        frac = String(repeating: "0", count: scale - frac.count) + frac
        return (negative ? "-" : "") + String(m / p) + "." + frac
    }

    /// Formats a decimal held in 128 bits (sums and averages) at `scale`.
    public static func formatDecimal(_ v: Int128, scale: Int) -> String {
        let negative = v < 0
        let m = v.magnitude
        if scale == 0 { return (negative ? "-" : "") + String(m) }
        var p: UInt128 = 1
        for _ in 0..<scale { p *= 10 }
        var frac = String(m % p)
        frac = String(repeating: "0", count: scale - frac.count) + frac
        return (negative ? "-" : "") + String(m / p) + "." + frac
    }

    // MARK: timestamps

    /// Days since 1970-01-01 of a proleptic Gregorian date (month 1...12).
    @inlinable public static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        // Count years from March so that the leap day is the last day of the year.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let shiftedMonth = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date of a day count from `daysSinceEpoch`.
    public static func civilDate(daysSinceEpoch days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    @inlinable static func digits(_ t: UnsafeRawBufferPointer, _ at: Int, _ n: Int) -> Int64? {
        var v: Int64 = 0
        for i in at..<(at + n) {
            let d = t[i] &- 48
            guard d < 10 else { return nil }
            v = v * 10 + Int64(d)
        }
        return v
    }

    /// `YYYY-MM-DD HH:MM:SS[.f{1,6}]` (or with `T` between date and time) in UTC.
    @inlinable public static func parseTimestamp(_ t: UnsafeRawBufferPointer) -> Int64? {
        guard t.count >= 19, t[4] == UInt8(ascii: "-"), t[7] == UInt8(ascii: "-"),
              t[10] == UInt8(ascii: " ") || t[10] == UInt8(ascii: "T"),
              t[13] == UInt8(ascii: ":"), t[16] == UInt8(ascii: ":"),
              let y = digits(t, 0, 4), let mo = digits(t, 5, 2), let d = digits(t, 8, 2),
              let h = digits(t, 11, 2), let mi = digits(t, 14, 2), let s = digits(t, 17, 2),
              (1...12).contains(mo), d >= 1, d <= daysIn(month: mo, year: y), h < 24, mi < 60, s < 60
        else { return nil }
        var micros: Int64 = 0
        if t.count > 19 {
            let n = t.count - 20
            guard t[19] == UInt8(ascii: "."), (1...6).contains(n), let f = digits(t, 20, n) else { return nil }
            micros = f * powersOfTen[6 - n]
        }
        let days = daysSinceEpoch(year: y, month: mo, day: d)
        return ((days * 24 + h) * 60 + mi) * 60_000_000 + s * 1_000_000 + micros
    }

    @inlinable static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    public static func formatTimestamp(_ micros: Int64) -> String {
        let secondsTotal = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let frac = micros - secondsTotal * 1_000_000
        let days = secondsTotal >= 0 ? secondsTotal / 86_400 : (secondsTotal - 86_399) / 86_400
        let secs = secondsTotal - days * 86_400
        let (y, m, d) = civilDate(daysSinceEpoch: days)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        var out = "\(y)-\(two(m))-\(two(d)) \(two(secs / 3600)):\(two(secs / 60 % 60)):\(two(secs % 60))"
        if frac != 0 {
            let f = String(frac)
            out += "." + String(repeating: "0", count: 6 - f.count) + f
        }
        return out
    }
}
