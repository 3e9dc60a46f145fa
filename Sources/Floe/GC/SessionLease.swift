/// A standalone compactor session's lease: the object `leases/<session, 16 hex>.lease`,
/// rewritten every `CompactionOptions.compactorLeaseRenewSeconds` while the session
/// lives. It decides nothing by itself: GC reads its age only to choose which
/// sessions to end with an `expire` record, and it deletes a session's uncommitted
/// outputs only once the manifest has ended the session, so a compactor that was
/// paused past its lease loses its task (`staleCompaction`), never its data.
enum SessionLease {
    static func path(_ session: UInt64) -> String {
        "leases/" + String(session, radix: 16).leftPad(16) + ".lease"
    }

    /// The session of a lease object's path, or nil for any other name.
    static func session(_ path: String) -> UInt64? {
        guard path.hasPrefix("leases/"), path.hasSuffix(".lease") else { return nil }
        let hex = path.dropFirst(7).dropLast(6)
        guard hex.count == 16 else { return nil }
        return UInt64(hex, radix: 16)
    }

    /// Writes (or rewrites) the lease: 8 bytes, the session id, little-endian.
    static func renew(_ session: UInt64, in store: any ObjectStore) async throws {
        var w = ByteWriter(capacity: 8)
        w.u64(session)
        try await store.put(path(session), w.bytes)
    }

    /// Modification time of each session's lease (seconds since 1970).
    static func renewals(in store: any ObjectStore) async throws -> [UInt64: Double] {
        var out: [UInt64: Double] = [:]
        for o in try await store.list(prefix: "leases/") {
            if let s = session(o.path) { out[s] = o.modified }
        }
        return out
    }
}

/// Which unreferenced SSTs one GC pass may delete, by the session that wrote them
/// (the high 32 bits of an SST id). One rule for the writer's GC and a standalone
/// compactor's (`StateStore.collectGarbage`, `Compactor.collectGarbage`).
struct SessionGC {
    /// The newest version, read before `data/` was listed.
    let latest: Version
    /// This process's session: its outputs in flight are in `protected`, the rest may go.
    let own: UInt64
    /// Lease renewal times by session.
    let leases: [UInt64: Double]
    let graceSeconds: Double
    let now: Double

    enum Decision: Equatable {
        case delete
        case keep
        /// The session's outputs may still be committed: end the session first.
        case expireFirst(UInt64)
    }

    /// The decision for an unreferenced, unprotected SST past its grace.
    /// `seenRetired`: this process saw it leave a version (so it was committed once).
    func decide(id: UInt64, seenRetired: Bool) -> Decision {
        let session = id >> 32
        if session == own { return .delete }
        // A session that started after `latest` was read: its uploads may be committed soon.
        if session > latest.sequence { return .keep }
        // Committed once and dropped since: nothing adds an SST back, and the grace (and, in
        // the writer, the pins) protect the readers of older versions.
        if seenRetired { return .delete }
        // The live writer's: a sync awaiting its commit looks exactly like this. Only the
        // writer itself knows (its own session above).
        if session == latest.writerID { return .keep }
        if latest.compactors.contains(session) {
            if let renewed = leases[session], now - renewed < graceSeconds { return .keep }
            return .expireFirst(session)
        }
        // A writer session an open record ended, or an expired compactor session: nothing
        // of it can be committed any more.
        return .delete
    }
}
