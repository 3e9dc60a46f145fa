/// Deletes SST objects nothing can reach any more.
///
/// An object is deleted only when it is referenced neither by the current
/// version, nor by a pinned version (snapshots, running scans), nor by an
/// uploaded-but-uncommitted sync, and it has been unreferenced for the grace
/// period: since the compaction that dropped it committed, or, for an orphan
/// of a crashed upload or a failed compaction, since the object was written.
struct ObjectGC: Sendable {
    let store: any ObjectStore
    var failpoints: FailpointRegistry = Failpoints.processOrEmpty

    struct Report: Sendable, Equatable {
        var deleted: [String] = []
        var deletedBytes: UInt64 = 0
        var kept: Int = 0
    }

    /// One pass. `protected` are ids that must stay; `retiredAt` maps ids dropped by
    /// a version change to when that happened; `now` is seconds since 1970.
    func collect(live: Set<UInt64>, protected: Set<UInt64>, retiredAt: [UInt64: Double],
                 graceSeconds: Double, now: Double) async throws -> Report {
        var r = Report()
        for o in try await store.list(prefix: "data/") {
            guard let id = ObjectGC.sstID(o.path) else { continue }
            let since = retiredAt[id] ?? o.modified
            if live.contains(id) || protected.contains(id) || now - since < graceSeconds {
                r.kept += 1
                continue
            }
            try failpoints.hit(.gcBeforeDelete)
            try await store.delete(o.path)
            try failpoints.hit(.gcAfterDelete)
            r.deleted.append(o.path)
            r.deletedBytes += UInt64(o.size)
        }
        return r
    }

    /// The id of `data/<16 hex>.sst`, or nil for any other name.
    static func sstID(_ path: String) -> UInt64? {
        guard path.hasPrefix("data/"), path.hasSuffix(".sst") else { return nil }
        let hex = path.dropFirst(5).dropLast(4)
        guard hex.count == 16 else { return nil }
        return UInt64(hex, radix: 16)
    }
}
