/// One manifest object as `floe manifest show` lists it: a delta or a
/// checkpoint, decoded, or the error that prevented decoding it.
package struct ManifestRecord: Sendable {
    /// What the object records.
    package enum Kind: String, Sendable {
        /// A writer session started (and fenced every earlier one).
        case open
        /// A writer committed an epoch.
        case commit
        /// A compactor replaced SSTs.
        case compaction
        /// A compactor process took a session id.
        case register
        /// Compactor sessions were ended (their lease ran out, or they detached).
        case expire
        /// A named checkpoint was created.
        case pin
        /// A named checkpoint was deleted.
        case unpin
        /// A full version.
        case checkpoint
    }

    /// The manifest sequence, from the object name.
    package var sequence: UInt64
    /// The object's path.
    package var object: String
    /// The object's size in bytes.
    package var objectSize: Int
    /// Nil when the object could not be decoded (see `error`).
    package var kind: Kind?
    /// The writer session that wrote the record (for a checkpoint: the owning session).
    package var writerID: UInt64 = 0
    /// The committed epoch after this record.
    package var committedEpoch: Epoch = 0
    /// Oldest epoch readers may still ask for after this record.
    package var safeEpoch: Epoch = 0
    /// SSTs a delta adds (a commit's new sub-level or a compaction's outputs).
    package var addedCount = 0
    /// Bytes of the added SSTs.
    package var addedBytes: UInt64 = 0
    /// SSTs a compaction removes.
    package var removedCount = 0
    /// Bytes of the removed SSTs; nil when the version before the record is unknown.
    package var removedBytes: UInt64?
    /// Metadata keys the record writes (a checkpoint: every key it holds), sorted.
    package var metadataKeys: [String] = []
    /// Wall-clock milliseconds a delta was written at; nil for checkpoints.
    package var timestampMillis: UInt64?
    /// SSTs in the version after this record, when it is known
    /// (a checkpoint, or a delta replayed over a known version).
    package var liveSsts: Int?
    /// Bytes of the SSTs in the version after this record, when known.
    package var liveBytes: UInt64?
    /// Why the object could not be read or decoded, or why it does not apply
    /// (an error description, naming the object).
    package var error: String?
}

/// The whole manifest as `StoreInspector.manifestHistory` reads it.
package struct ManifestHistory: Sendable {
    /// Every delta and checkpoint in sequence order (at one sequence the delta first).
    package var records: [ManifestRecord] = []
    /// Sequences with neither a delta nor a checkpoint, as closed ranges.
    package var gaps: [ClosedRange<UInt64>] = []
    /// The current version as `StateStore.open` would load it, or nil (see `currentError`).
    package var current: VersionSummary?
    /// Why the current version did not load, when it did not.
    package var currentError: String?

    /// True when every object decoded and the current version loaded.
    package var isClean: Bool { currentError == nil && records.allSatisfy { $0.error == nil } }
}
