/// A read-only follower's lease: the object `readers/<reader id, 16 hex>.lease`
/// naming the SSTs of the version it reads, rewritten by every `refresh` and
/// renewed while the follower lives. Every GC (the writer's, a standalone
/// compactor's) keeps the SSTs a lease names while the lease is younger than
/// `CompactionOptions.readerLeaseSeconds`, so a follower in another process never
/// loses a file under a read; one paused past its lease may (its get then follows
/// the manifest and reads again, its scan throws `objectNotFound`).
///
/// What makes it safe with no grace at all: every GC pass reads its version
/// before the leases, and a follower takes a version only once its lease is
/// written and the manifest still ends at that version (`StateStore.leaseNewest`);
/// so a pass that sees any of its files retired reads the lease too.
///
/// Bytes: `u64le` manifest sequence of the version, `varint` count, count × `u64le`
/// SST id (docs/format.md §2.5).
enum ReaderLease {
    static let prefix = "readers/"

    static func path(_ reader: UInt64) -> String {
        prefix + String(reader, radix: 16).leftPad(16) + ".lease"
    }

    static func isLease(_ path: String) -> Bool {
        path.hasPrefix(prefix) && path.hasSuffix(".lease")
    }

    /// Writes (or rewrites) `reader`'s lease for version `v` (its SSTs and its named checkpoints').
    static func write(_ reader: UInt64, version v: Version, in store: any ObjectStore) async throws {
        let ids = v.referencedSsts.sorted()
        var w = ByteWriter(capacity: 16 + ids.count * 8)
        w.u64(v.sequence)
        w.varint(ids.count)
        for id in ids { w.u64(id) }
        try await store.put(path(reader), w.bytes)
    }

    /// The SSTs named by leases renewed within `leaseSeconds` of `now`. Expired
    /// leases are deleted (a live follower writes its lease again at its next renewal);
    /// an unreadable one protects nothing and is reported by `floe verify`.
    static func protectedSsts(in store: any ObjectStore, leaseSeconds: Double, now: Double) async throws -> Set<UInt64> {
        var ids = Set<UInt64>()
        for o in try await store.list(prefix: prefix) where isLease(o.path) {
            if now - o.modified >= leaseSeconds {
                try? await store.delete(o.path)
                continue
            }
            guard let bytes = try? await store.get(o.path) else { continue }
            var r = ByteReader(bytes, object: o.path, range: 0..<bytes.count)
            guard (try? r.u64("sequence")) != nil, let n = try? r.length("count", limit: r.remaining / 8) else { continue }
            for _ in 0..<n {
                guard let id = try? r.u64("sst id") else { break }
                ids.insert(id)
            }
        }
        return ids
    }
}
