/// A failure of the `floe crashtest` harness itself (its directory, its oracle
/// file, its worker), as opposed to a consistency violation of the store, which
/// the run reports as a result.
struct CrashtestError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) { self.description = description }
}
