import Floe
import Foundation

/// What a `FaultProxy` does to one request. The raw values are the names
/// `floe s3 proxy --faults` takes.
public enum ProxyFault: String, CaseIterable, Sendable, Hashable {
    /// Answer 500 InternalError without forwarding.
    case internalError = "internal-error"
    /// Answer 503 SlowDown without forwarding.
    case slowDown = "slow-down"
    /// Answer 429 TooManyRequests without forwarding.
    case tooManyRequests = "too-many-requests"
    /// Answer 409 ConditionalRequestConflict without forwarding (conditional puts only).
    case conditionalConflict = "conditional-conflict"
    /// Reset the connection without forwarding.
    case resetBefore = "reset-before"
    /// Forward, then reset the connection instead of answering: a lost acknowledgement.
    case resetAfter = "reset-after"
    /// Forward, then answer 500 instead of the server's answer: a lost acknowledgement too.
    case internalErrorAfter = "internal-error-after"
    /// Forward, send the headers and half the body, then close.
    case truncatedBody = "truncated-body"
    /// Forward, send the headers, pause 30 ms, then the body (below any request timeout).
    case slowBody = "slow-body"
    /// Forward, then say nothing for `FaultProxy.stallSeconds` before answering
    /// (past a short request timeout). Not in storms: it only costs time.
    case stall

    /// Every fault a storm draws from: all but `.stall`.
    public static let storm: [ProxyFault] = allCases.filter { $0 != .stall }

    /// The faults of a comma-separated list of raw values (`"all"`: `storm`).
    /// - Throws: `FloeError.invalidArgument` naming an unknown fault and the known ones,
    ///   or an empty list.
    public static func parseList(_ text: String) throws -> [ProxyFault] {
        if text == "all" { return storm }
        var faults: [ProxyFault] = []
        for name in text.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            guard let fault = ProxyFault(rawValue: trimmed) else {
                throw FloeError.invalidArgument("unknown proxy fault '\(trimmed)'; known: all, "
                    + allCases.map(\.rawValue).joined(separator: ", "))
            }
            if !faults.contains(fault) { faults.append(fault) }
        }
        guard !faults.isEmpty else { throw FloeError.invalidArgument("the list of proxy faults is empty") }
        return faults
    }
}

/// The request line and the headers that matter for choosing a fault.
public struct ProxyRequest: Sendable {
    public var method: String
    public var target: String
    /// Whether the request carries `If-None-Match` (a conditional put).
    public var conditional: Bool

    public init(method: String, target: String, conditional: Bool) {
        self.method = method
        self.target = target
        self.conditional = conditional
    }
}

/// One request the proxy handled, kept when it records requests: what it was,
/// the fault it met, and when the proxy read it and finished answering it
/// (`ContinuousClock` instants; overlapping intervals were in flight together).
public struct ProxyLogEntry: Sendable {
    public var method: String
    public var target: String
    public var fault: ProxyFault?
    public var start: ContinuousClock.Instant
    public var end: ContinuousClock.Instant

    /// The most entries of `entries` whose intervals overlap at one instant.
    public static func peakOverlap(_ entries: [ProxyLogEntry]) -> Int {
        // Ends sort before starts at the same instant: touching intervals do not overlap.
        var events: [(at: ContinuousClock.Instant, delta: Int)] = []
        for entry in entries {
            events.append((entry.start, 1))
            events.append((entry.end, -1))
        }
        events.sort { a, b in a.at != b.at ? a.at < b.at : a.delta < b.delta }
        var open = 0, peak = 0
        for (_, delta) in events {
            open += delta
            peak = max(peak, open)
        }
        return peak
    }
}
