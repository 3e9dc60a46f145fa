/// One manifest record: the change a single commit makes to the version.
/// Stored as `manifest/<sequence>.delta`, created-if-absent, so sequences are
/// linearised and a writer that loses the race is fenced.
struct VersionDelta: Sendable, Equatable {
    enum Kind: UInt8, Sendable {
        /// A writer session starts; it fences every earlier session.
        case open = 1
        /// A writer commits an epoch: a new L0 sub-level plus caller metadata.
        case commit = 2
        /// A compactor replaces input SSTs with outputs (no epoch change).
        case compaction = 3
        /// A compactor process takes a session id for its SST names; fences nobody.
        /// The session may commit compactions until an `expire` record names it.
        case register = 4
        /// Ends the compactor sessions listed in `removed`: their compactions can no
        /// longer commit, so GC may delete their uncommitted outputs.
        case expire = 5
        /// Pins a committed version under a name (`namedCheckpoint`): GC keeps its SSTs.
        case pin = 6
        /// Ends the named checkpoint `namedCheckpoint.name` (its SST list is empty).
        case unpin = 7
    }

    var sequence: UInt64
    var kind: Kind
    /// The session that wrote this record (for `open`, the new session, equal to `sequence`).
    var writerID: UInt64
    /// The committed epoch after this record.
    var committedEpoch: Epoch
    /// Oldest epoch readers may still ask for after this record.
    var safeEpoch: Epoch
    /// SSTs of the new L0 sub-level (commit), sorted and non-overlapping.
    var newSubLevel: [SstInfo] = []
    /// Further new L0 sub-levels below `newSubLevel`, oldest first (commit of epochs
    /// whose data was partly spilled before the sync: `StateStore.waitForWriteBudget`).
    var olderSubLevels: [[SstInfo]] = []
    /// SST ids removed from any level (compaction); session ids ended (expire).
    var removed: [UInt64] = []
    /// SSTs added to a level (compaction): `(level, info)`; level 0 means a new sub-level position.
    var added: [LevelledSst] = []
    /// Caller metadata, merged over the previous metadata key by key.
    var metadata: [String: [UInt8]] = [:]
    /// Table watermarks the commit sets (commit only).
    var watermarks: [TableWatermark] = []
    /// The checkpoint a `pin` record creates or an `unpin` record ends.
    var namedCheckpoint: NamedCheckpoint?
    /// Wall-clock milliseconds when written; informational.
    var timestampMillis: UInt64 = 0
    /// Microseconds the commit waited on L0 back-pressure before it was written.
    var stallMicros: UInt64 = 0

    struct LevelledSst: Sendable, Equatable {
        var level: Int
        var info: SstInfo
    }

    /// What identifies a commit record for a retry of the same commit: its writer,
    /// epoch and SST ids (never 0 for a commit).
    var commitIdentity: UInt64 {
        var w = ByteWriter(capacity: 24 + newSubLevel.count * 8)
        w.u64(writerID)
        w.u64(committedEpoch)
        for s in olderSubLevels.joined() { w.u64(s.id) }
        for s in newSubLevel { w.u64(s.id) }
        return max(1, Checksum.xxh3(w.bytes))
    }

    /// The record by session `by` that ends those of `sessions` that `base` still
    /// lists as compactor sessions; nil if it lists none of them.
    static func expire(_ sessions: [UInt64], on base: Version, by: UInt64) -> VersionDelta? {
        let ending = sessions.filter { base.compactors.contains($0) }
        guard !ending.isEmpty else { return nil }
        var d = VersionDelta(sequence: base.sequence + 1, kind: .expire, writerID: by, committedEpoch: base.committedEpoch,
                             safeEpoch: base.safeEpoch, timestampMillis: StateStore.nowMillis())
        d.removed = ending
        return d
    }

    static func commitIdentity(writerID: UInt64, epoch: Epoch, ssts: [SstInfo]) -> UInt64 {
        var d = VersionDelta(sequence: 0, kind: .commit, writerID: writerID, committedEpoch: epoch, safeEpoch: 0)
        d.newSubLevel = ssts
        return d.commitIdentity
    }

    static func objectPath(_ sequence: UInt64) -> String {
        "manifest/" + String(sequence).leftPad(20) + ".delta"
    }
}
