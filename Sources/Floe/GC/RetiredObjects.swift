/// When SSTs left the version, as seen by a process that only watches the
/// manifest (a standalone compactor): it cannot see the writer's pins, so its GC
/// times the grace from the moment it saw an SST become unreferenced.
///
/// The time recorded is when the change was observed, never before it happened,
/// so a grace timed from it is at least as long as one timed from the real retirement.
struct RetiredObjects: Sendable {
    /// Sequence of the newest version observed; older versions are ignored.
    private var sequence: UInt64
    private var live: Set<UInt64>
    /// SST id -> seconds since 1970 when it was first seen unreferenced.
    private(set) var since: [UInt64: Double] = [:]

    init(_ v: Version) {
        sequence = v.sequence
        live = Set(v.allSsts.map(\.id))
    }

    /// Records SSTs live in the previously observed version but not in `v`.
    mutating func observe(_ v: Version, now: Double) {
        guard v.sequence > sequence else { return }
        let nowLive = Set(v.allSsts.map(\.id))
        for id in live where !nowLive.contains(id) && since[id] == nil { since[id] = now }
        sequence = v.sequence
        live = nowLive
    }

    /// Drops entries that a GC pass with `graceSeconds` at `now` has dealt with:
    /// older entries were deleted by it, or were already gone.
    mutating func forget(graceSeconds: Double, now: Double) {
        since = since.filter { now - $0.value < graceSeconds }
    }
}
