import Logging

extension Logger {
    /// A logger that drops every record: the default of `StoreOptions.logger` and
    /// `PipelineOptions.logger`, so that nothing is logged unless the application
    /// hands the library a logger of its own.
    public static var floeDisabled: Logger {
        Logger(label: "floe", factory: { _ in SwiftLogNoOpLogHandler() })
    }
}

extension Logger.MetadataValue {
    /// `.stringConvertible` of an integer, spelled once.
    @inline(__always)
    package static func int<I: BinaryInteger & Sendable>(_ v: I) -> Logger.MetadataValue { .stringConvertible(v) }
}

/// Milliseconds since `micros` (monotonic microseconds), with one decimal, for log metadata.
package func millisSince(_ micros: UInt64, now: UInt64) -> Logger.MetadataValue {
    let d = now >= micros ? now - micros : 0
    return .stringConvertible(Double(d / 100) / 10)
}
