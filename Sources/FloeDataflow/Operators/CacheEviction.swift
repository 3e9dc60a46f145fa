import Floe

/// Which cached keys an operator keeps when its cache outgrew its budget at a
/// barrier (all entries are clean then: the barrier flushed their changes).
///
/// The most recently touched keys stay, whole epochs from the newest down, until
/// the next epoch would pass `keepFraction` of the budget; of an epoch that alone
/// passes it, the first entries up to it. Keeping less than the whole budget
/// leaves room for the epochs to come, so a cache that runs full does not evict
/// at every barrier. A key read again soon after its epoch (a join's other side
/// arriving a few seconds later, a window's group across its epochs) then stays
/// cached instead of being read back from the store.
enum CacheEviction {
    /// The share of the budget eviction keeps.
    static let keepFraction = 0.75

    /// The indices to keep, ascending, given each entry's last touched epoch and
    /// size in bytes.
    static func keep(touched: [Epoch], bytes: [Int], budget: Int) -> [Int] {
        precondition(touched.count == bytes.count)
        let target = Int(Double(budget) * keepFraction)
        var perEpoch: [Epoch: Int] = [:]
        for i in touched.indices { perEpoch[touched[i], default: 0] += bytes[i] }
        // The oldest epoch kept whole, walking down from the newest.
        var total = 0
        var oldestWhole = Epoch.max
        for e in perEpoch.keys.sorted(by: >) {
            guard total + perEpoch[e]! <= target else { break }
            total += perEpoch[e]!
            oldestWhole = e
        }
        var kept: [Int] = []
        if oldestWhole != .max {
            for i in touched.indices where touched[i] >= oldestWhole { kept.append(i) }
            return kept
        }
        // The newest epoch alone passes the target: its first entries up to it.
        guard let newest = perEpoch.keys.max() else { return [] }
        total = 0
        for i in touched.indices where touched[i] == newest {
            guard total + bytes[i] <= target else { break }
            total += bytes[i]
            kept.append(i)
        }
        return kept
    }
}
