/// Deletes SST objects nothing can reach any more.
///
/// An object is deleted only when it is referenced neither by the current
/// version (its named checkpoints included), nor by a pinned version (snapshots, running scans), nor by an
/// uploaded-but-uncommitted sync, it has been unreferenced for the grace
/// period (since the compaction that dropped it committed, or, for an orphan
/// of a crashed upload or a failed compaction, since the object was written),
/// and no session that may still commit it is alive (`SessionGC`).
struct ObjectGC: Sendable {
    let store: any ObjectStore
    var failpoints: FailpointRegistry = Failpoints.processOrEmpty

    struct Report: Sendable, Equatable {
        var deleted: [String] = []
        var deletedBytes: UInt64 = 0
        var kept: Int = 0
    }

    /// One pass. `protected` are ids that must stay; `retiredAt` maps ids dropped by
    /// a version change to when that happened; `now` is seconds since 1970. An SST
    /// past all that is deleted only if `sessions` (the rule by writing session)
    /// allows it; sessions it wants ended first are handed to `expire`, which must
    /// append the `expire` record and return the version after it (nil: not ended,
    /// keep their outputs). `sessions` nil: the caller vouches that nothing unreferenced can be committed.
    ///
    /// The doomed objects are deleted with `ObjectStore.delete(_:)`, `deleteBatchSize`
    /// paths a call; the failpoints `gcBeforeDelete` and `gcAfterDelete` are hit once
    /// per call, before and after it. The report lists every object of the calls that
    /// returned. If a call throws, `collect` throws: objects of that chunk may be gone
    /// or not, later chunks are untouched, and the next pass finds what is left
    /// (deleting is idempotent).
    func collect(live: Set<UInt64>, protected: Set<UInt64>, retiredAt: [UInt64: Double],
                 graceSeconds: Double, now: Double, sessions: SessionGC? = nil,
                 expire: ([UInt64]) async throws -> Version? = { _ in nil }) async throws -> Report {
        var r = Report()
        var doomed: [ObjectInfo] = []
        var waiting: [UInt64: [ObjectInfo]] = [:]
        for o in try await store.list(prefix: "data/") {
            guard let id = ObjectGC.sstID(o.path) else { continue }
            let since = retiredAt[id] ?? o.modified
            if live.contains(id) || protected.contains(id) || now - since < graceSeconds {
                r.kept += 1
                continue
            }
            switch sessions?.decide(id: id, seenRetired: retiredAt[id] != nil) ?? .delete {
            case .delete: doomed.append(o)
            case .keep: r.kept += 1
            case let .expireFirst(session): waiting[session, default: []].append(o)
            }
        }
        if !waiting.isEmpty {
            // Deleted only once the manifest ended the session and still does not reference them.
            if let after = try await expire(waiting.keys.sorted()) {
                let referenced = after.referencedSsts
                for (session, objects) in waiting {
                    let ended = !after.compactors.contains(session)
                    for o in objects {
                        if ended, let id = ObjectGC.sstID(o.path), !referenced.contains(id) { doomed.append(o) } else { r.kept += 1 }
                    }
                }
            } else {
                r.kept += waiting.values.reduce(0) { $0 + $1.count }
            }
        }
        // One batch call per chunk: S3 deletes up to 1,000 keys a request (DeleteObjects).
        var start = 0
        while start < doomed.count {
            let chunk = doomed[start..<min(start + ObjectGC.deleteBatchSize, doomed.count)]
            start = chunk.endIndex
            try failpoints.hit(.gcBeforeDelete)
            try await store.delete(chunk.map(\.path))
            try failpoints.hit(.gcAfterDelete)
            for o in chunk {
                r.deleted.append(o.path)
                r.deletedBytes += UInt64(o.size)
            }
        }
        return r
    }

    /// Paths per `ObjectStore.delete(_:)` call: what one S3 DeleteObjects request takes.
    static let deleteBatchSize = 1000

    /// The id of `data/<16 hex>.sst`, or nil for any other name.
    static func sstID(_ path: String) -> UInt64? {
        guard path.hasPrefix("data/"), path.hasSuffix(".sst") else { return nil }
        let hex = path.dropFirst(5).dropLast(4)
        guard hex.count == 16 else { return nil }
        return UInt64(hex, radix: 16)
    }
}
