/// A failure of a crash-test harness itself (its directory, its oracle file, its
/// worker), as opposed to a consistency violation of the store, which a
/// `RecoveryReport` lists as a result.
public struct CrashtestError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) { self.description = description }
}
