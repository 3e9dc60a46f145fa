import Synchronization

/// One sorted run of a version (an L0 sub-level or a level) laid out for gets:
/// the files' key ranges, ids and oldest epochs in flat buffers, and the loaded
/// meta (filter and index) of each file, filled as gets find them.
///
/// Why: a get passes one file per sorted run. Found through the version's
/// arrays and the meta cache, that cost a retain and release of shared objects
/// (the run's array, each key array compared, the meta) and the meta cache's
/// lock, LRU relink and hash probe: more than the bloom probe it led to. Worse,
/// every reader thread wrote those same lines on every get, so gets on two
/// threads ran barely faster than on one. Here a get reads only: a binary
/// search over one buffer, then one acquiring load of the file's slot, whose
/// meta is borrowed without a retain.
///
/// Invariants that make the unretained borrow safe:
/// - the buffers are written once, in `init`; a slot is set at most once, to a
///   meta that `state.owned` also holds, and never cleared while the table lives;
/// - readers borrow a meta only inside `withMeta`, while they hold a version
///   (and so this table) alive.
///
/// Tables are shared: a version whose run is the same list of files as in the
/// version it was derived from takes over that run's table, so a commit (a new
/// sub-level) costs nothing per file of the runs below it.
///
/// Memory: L0 metas are kept unbudgeted (L0 is bounded by the write-stall
/// thresholds); level metas only while `MetaPinBudget` has room.
final class RunTable: @unchecked Sendable {
    // @unchecked: the buffers are immutable after init, `slots` is written only
    // through atomics, `state` only under its lock.
    /// The run's files, for the paths that read them (never the cached get).
    let files: [SstInfo]
    let count: Int
    private let ids: UnsafeMutablePointer<UInt64>
    private let minEpochs: UnsafeMutablePointer<Epoch>
    /// File `f`'s smallest full key is `keyBytes[keyStarts[2f]..<keyStarts[2f+1]]`,
    /// its largest `keyBytes[keyStarts[2f+1]..<keyStarts[2f+2]]`.
    private let keyStarts: UnsafeMutablePointer<Int>
    private let keyBytes: UnsafeMutablePointer<UInt8>
    private let slots: UnsafeMutablePointer<Atomic<UInt>>
    private struct State {
        var owned: [SstMeta] = []
        /// Bytes charged to `budget` by the metas in `owned`, given back on deinit.
        var charged = 0
        var budget: MetaPinBudget?
    }
    private let state = Lock(State())

    init(_ files: [SstInfo]) {
        self.files = files
        count = files.count
        let n = max(1, count)
        ids = .allocate(capacity: n)
        minEpochs = .allocate(capacity: n)
        keyStarts = .allocate(capacity: 2 * count + 1)
        let total = files.reduce(0) { $0 + $1.smallestKey.count + $1.largestKey.count }
        keyBytes = .allocate(capacity: max(1, total))
        slots = .allocate(capacity: n)
        var at = 0
        for (f, info) in files.enumerated() {
            (ids + f).initialize(to: info.id)
            (minEpochs + f).initialize(to: info.minEpoch)
            (slots + f).initialize(to: Atomic(0))
            for (i, key) in [info.smallestKey, info.largestKey].enumerated() {
                (keyStarts + 2 * f + i).initialize(to: at)
                key.withUnsafeBufferPointer { (keyBytes + at).initialize(from: $0.baseAddress!, count: $0.count) }
                at += key.count
            }
        }
        (keyStarts + 2 * count).initialize(to: at)
    }

    deinit {
        state.withLock { s in s.budget?.give(s.charged) }
        slots.deinitialize(count: count)
        ids.deallocate()
        minEpochs.deallocate()
        keyStarts.deallocate()
        keyBytes.deallocate()
        slots.deallocate()
    }

    @inline(__always)
    func id(_ f: Int) -> UInt64 { ids[f] }

    @inline(__always)
    private func key(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: keyBytes + keyStarts[i], count: keyStarts[i + 1] - keyStarts[i])
    }

    /// The file whose key range may hold the user key and which holds a version at
    /// or below `epoch`; nil when there is none.
    @inline(__always)
    func find(table: UInt32, userKey k: UnsafeRawBufferPointer, epoch: Epoch) -> Int? {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if FullKey.compareUser(key(2 * mid + 1), table: table, userKey: k) < 0 { lo = mid + 1 } else { hi = mid }
        }
        // The search left largestKey >= key at `lo`: only the lower bound is still open.
        guard lo < count, FullKey.compareUser(key(2 * lo), table: table, userKey: k) <= 0, minEpochs[lo] <= epoch else { return nil }
        return lo
    }

    /// Runs `body` with the meta of file `file`, borrowed without a retain; nil when not filled yet.
    @inline(__always)
    func withMeta<R>(_ file: Int, _ body: (SstMeta) -> R) -> R? {
        let raw = slots[file].load(ordering: .acquiring)
        guard raw != 0, let p = UnsafeRawPointer(bitPattern: raw) else { return nil }
        return Unmanaged<SstMeta>.fromOpaque(p)._withUnsafeGuaranteedRef(body)
    }

    /// Fills the slot of `file` with `meta` (that file's meta, with its filter), charged
    /// to `budget` unless nil (L0). A filled slot is kept; with `budget` full the slot
    /// stays empty and gets go on finding the meta in the meta cache.
    func fill(_ file: Int, _ meta: SstMeta, budget: MetaPinBudget?) {
        state.withLock { s in
            guard slots[file].load(ordering: .relaxed) == 0 else { return }
            if let budget {
                // One table charges one budget (the store's); a second one would not be given back.
                guard s.budget == nil || s.budget === budget, budget.take(meta.charge) else { return }
                s.budget = budget
                s.charged += meta.charge
            }
            s.owned.append(meta)
            slots[file].store(UInt(bitPattern: Unmanaged.passUnretained(meta).toOpaque()), ordering: .releasing)
        }
    }

    /// The budget this table's metas are charged to; nil while it has charged none.
    var budget: MetaPinBudget? { state.withLock { $0.budget } }

    /// The tables of `runs` (L0 sub-levels or levels, in order), given the tables of
    /// the version they were derived from. A run whose files are those of a
    /// previous table keeps that table; the others get a new one, filled with the
    /// metas previous tables hold for their files (a compaction's surviving
    /// files). `budgeted`: level runs, whose carried metas are charged again.
    static func tables(for runs: [[SstInfo]], previous: [RunTable], budgeted: Bool) -> [RunTable] {
        var out: [RunTable] = []
        out.reserveCapacity(runs.count)
        var shared = [Bool](repeating: false, count: previous.count)
        var changed: [Int] = []
        // Runs keep their order across a delta (a commit puts a new sub-level first, a
        // compaction removes runs and puts its output where they were), so one forward
        // walk over the previous tables finds the unchanged runs: no hashing, which
        // every commit and every delta replayed at open would pay.
        var next = 0
        for run in runs {
            var match: Int?
            if let first = run.first {
                var k = next
                while k < previous.count && (previous[k].count == 0 || previous[k].ids[0] != first.id) { k += 1 }
                if k < previous.count && previous[k].holds(run) { match = k }
            } else if out.count < previous.count && previous[out.count].count == 0 && !shared[out.count] {
                // An empty level stays empty across commits.
                match = out.count
            }
            if let k = match {
                shared[k] = true
                next = max(next, k + 1)
                out.append(previous[k])
            } else {
                changed.append(out.count)
                out.append(RunTable(run))
            }
        }
        guard !changed.isEmpty else { return out }
        var carried: [UInt64: (SstMeta, MetaPinBudget?)] = [:]
        for (i, t) in previous.enumerated() where !shared[i] {
            let b = t.budget
            for f in 0..<t.count { t.withMeta(f) { carried[$0.id] = ($0, b) } }
        }
        guard !carried.isEmpty else { return out }
        for r in changed {
            for (f, info) in runs[r].enumerated() {
                guard let (m, b) = carried[info.id] else { continue }
                if budgeted {
                    guard let b else { continue }
                    out[r].fill(f, m, budget: b)
                } else {
                    out[r].fill(f, m, budget: nil)
                }
            }
        }
        return out
    }

    /// Whether `run` is this table's list of files.
    private func holds(_ run: [SstInfo]) -> Bool {
        guard run.count == count else { return false }
        let same = run.withUnsafeBufferPointer { a in files.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress } }
        if same { return true }
        for (f, info) in run.enumerated() where info.id != ids[f] { return false }
        return true
    }
}
