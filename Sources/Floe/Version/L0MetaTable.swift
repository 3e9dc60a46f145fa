import Synchronization

/// The loaded metas (filter and index) of one version's L0 files, one slot per
/// file, filled as reads find them in the meta cache.
///
/// Why: a get that misses a deep L0 visits every sub-level, and a meta-cache
/// lookup per sub-level (shard lock, hash probe, retain and release of the meta)
/// cost more than the bloom probe it leads to. A slot is read with one acquiring
/// load and borrowed without a retain.
///
/// Invariants that make the unretained borrow safe:
/// - a slot is set at most once, to a meta that `owned` also holds, and never
///   cleared while the table lives;
/// - readers borrow a meta only inside `withMeta`, while they hold the version
///   (and so this table) alive.
///
/// Memory: metas of L0 files stay loaded while a version referencing them is
/// current or pinned, even if the meta cache evicts them; L0 is bounded by the
/// write-stall thresholds, so this is a bounded extra.
final class L0MetaTable: @unchecked Sendable {
    // @unchecked: `slots` is written only through atomics, `owned` only under its lock.
    private let slots: UnsafeMutablePointer<Atomic<UInt>>
    private let owned: Lock<[SstMeta]>
    /// Slot of file `f` of sub-level `s` is `starts[s] + f`.
    let starts: [Int]
    let count: Int

    init(l0: [[SstInfo]]) {
        var starts: [Int] = []
        starts.reserveCapacity(l0.count)
        var n = 0
        for run in l0 {
            starts.append(n)
            n += run.count
        }
        self.starts = starts
        count = n
        slots = .allocate(capacity: max(1, n))
        for i in 0..<n { (slots + i).initialize(to: Atomic(0)) }
        owned = Lock([])
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    /// Runs `body` with the meta in `slot`, borrowed without a retain; nil when not filled yet.
    @inline(__always)
    func withMeta<R>(_ slot: Int, _ body: (SstMeta) -> R) -> R? {
        let raw = slots[slot].load(ordering: .acquiring)
        guard raw != 0, let p = UnsafeRawPointer(bitPattern: raw) else { return nil }
        return Unmanaged<SstMeta>.fromOpaque(p)._withUnsafeGuaranteedRef(body)
    }

    /// Fills `slot` with `meta` (the meta of the file at that slot). A slot already filled is kept.
    func fill(_ slot: Int, _ meta: SstMeta) {
        owned.withLock { o in
            guard slots[slot].load(ordering: .relaxed) == 0 else { return }
            o.append(meta)
            slots[slot].store(UInt(bitPattern: Unmanaged.passUnretained(meta).toOpaque()), ordering: .releasing)
        }
    }

    /// Carries over the metas `previous` (the version this one replaces) holds for
    /// files that are still in L0, so a commit does not make the next gets look
    /// every sub-level up again.
    func inherit(from previous: L0MetaTable, previousL0: [[SstInfo]], l0: [[SstInfo]]) {
        var byID: [UInt64: SstMeta] = [:]
        for (s, run) in previousL0.enumerated() {
            for f in run.indices {
                previous.withMeta(previous.starts[s] + f) { byID[$0.id] = $0 }
            }
        }
        guard !byID.isEmpty else { return }
        for (s, run) in l0.enumerated() {
            for (f, info) in run.enumerated() {
                if let m = byID[info.id] { fill(starts[s] + f, m) }
            }
        }
    }
}
