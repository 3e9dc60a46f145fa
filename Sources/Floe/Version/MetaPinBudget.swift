import Synchronization

/// How many bytes of SST metas the versions' `RunTable`s may keep loaded
/// for level files, beyond what the meta cache holds: without a bound, a large
/// store read all over would keep every level file's filter and index in memory
/// for as long as its version is current. A table gives its charge back when
/// the last version using it is gone.
final class MetaPinBudget: Sendable {
    let limit: Int
    private let used = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    /// Bytes charged now.
    var usedBytes: Int { used.load(ordering: .relaxed) }

    /// Charges `bytes` if they fit under the limit.
    func take(_ bytes: Int) -> Bool {
        var cur = used.load(ordering: .relaxed)
        while true {
            guard cur + bytes <= limit else { return false }
            let (done, now) = used.compareExchange(expected: cur, desired: cur + bytes, ordering: .relaxed)
            if done { return true }
            cur = now
        }
    }

    func give(_ bytes: Int) {
        used.subtract(bytes, ordering: .relaxed)
    }
}
