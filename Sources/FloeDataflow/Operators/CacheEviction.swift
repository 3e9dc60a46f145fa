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

/// How an operator's cache (entries in slots, a dictionary from key to slot)
/// drops the slots it does not keep without rebuilding its dictionary: each
/// dropped key leaves the dictionary, and each hole below the new count is filled
/// by a kept slot from above it, whose key is pointed at its new slot. The work
/// is proportional to the slots dropped, not to the cache: rebuilding the
/// dictionary of a million cached join keys took a second.
///
/// Apply it in order: remove the `dropped` slots' keys from the dictionary, then
/// for every move swap the two slots and point the moved key at `to`, then cut
/// the slots to `count`. Slot order is not kept.
struct CacheCompaction {
    /// Slots whose keys leave the dictionary, ascending.
    var dropped: [Int] = []
    /// A kept slot at `from` (at least `count`) goes to the hole `to` (below `count`).
    var moves: [(from: Int, to: Int)] = []
    /// Slots left.
    var count = 0

    init(keep: [Bool]) {
        for (s, k) in keep.enumerated() {
            if k { count += 1 } else { dropped.append(s) }
        }
        var from = count
        for hole in dropped {
            guard hole < count else { break }
            while !keep[from] { from += 1 }
            moves.append((from, hole))
            from += 1
        }
    }

    /// Cuts `slots` to `count`, a slice at a time with a yield between slices.
    /// Freeing a few hundred thousand cached rows takes a pool thread for hundreds
    /// of milliseconds, and the commit loop and the store's syncs wait for a thread.
    static func cut<Slot>(_ slots: inout [Slot], to count: Int) async {
        while slots.count > count {
            slots.removeLast(min(slots.count - count, cutSlice))
            if slots.count > count { await Task.yield() }
        }
    }

    /// Yields after every `cutSlice` steps of a trimming loop (`step` counts from 0),
    /// for the same reason as `cut`.
    @inline(__always)
    static func pace(_ step: Int) async {
        if step % cutSlice == cutSlice - 1 { await Task.yield() }
    }

    /// Slots freed between two yields of `cut`: a few milliseconds of work.
    static let cutSlice = 8_192

    /// The mask of `CacheEviction.keep`'s answer over `count` slots.
    static func mask(_ kept: [Int], count: Int) -> [Bool] {
        var m = Array(repeating: false, count: count)
        for s in kept { m[s] = true }
        return m
    }
}
