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
        case register = 4
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
    /// SST ids removed from any level (compaction).
    var removed: [UInt64] = []
    /// SSTs added to a level (compaction): `(level, info)`; level 0 means a new sub-level position.
    var added: [LevelledSst] = []
    /// Caller metadata, merged over the previous metadata key by key.
    var metadata: [String: [UInt8]] = [:]
    /// Wall-clock milliseconds when written; informational.
    var timestampMillis: UInt64 = 0
    /// Microseconds the commit waited on L0 back-pressure before it was written.
    var stallMicros: UInt64 = 0

    struct LevelledSst: Sendable, Equatable {
        var level: Int
        var info: SstInfo
    }

    static func objectPath(_ sequence: UInt64) -> String {
        "manifest/" + String(sequence).leftPad(20) + ".delta"
    }
}
