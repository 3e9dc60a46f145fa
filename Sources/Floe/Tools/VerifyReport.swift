/// One finding of a verification: which object, where in it (when known), and what.
package struct VerifyIssue: Sendable, Equatable, CustomStringConvertible {
    /// The object the finding is about, or nil for store-wide findings.
    package var object: String?
    /// Byte offset inside `object`, when the finding is about specific bytes.
    package var offset: Int?
    /// What is wrong, in words.
    package var message: String

    /// A finding with an explicit object, offset and message.
    package init(object: String?, offset: Int? = nil, message: String) {
        self.object = object
        self.offset = offset
        self.message = message
    }

    /// A finding from an error raised while checking `object`: a corruption keeps
    /// its own object and offset, anything else is attributed to `object`.
    package init(_ error: any Error, object: String?) {
        switch error {
        case let FloeError.corruption(o, offset, reason):
            self.init(object: o, offset: offset, message: reason)
        case let FloeError.objectNotFound(path):
            self.init(object: path, message: "object not found")
        case let e as FloeError:
            self.init(object: object, message: e.description)
        default:
            self.init(object: object, message: "\(error)")
        }
    }

    /// `<object> at offset <n>: <message>`, omitting the parts that are unknown.
    package var description: String {
        switch (object, offset) {
        case let (o?, off?): "\(o) at offset \(off): \(message)"
        case let (o?, nil): "\(o): \(message)"
        default: message
        }
    }
}

/// The outcome of `StoreVerifier.verify`: every problem and warning found, and
/// what was checked. A store verifies clean when `problems` is empty; warnings
/// (orphan objects, stray names) do not make it unhealthy.
package struct VerifyReport: Sendable {
    /// Findings that make the store damaged or inconsistent.
    package var problems: [VerifyIssue] = []
    /// Findings worth knowing that do not affect correctness.
    package var warnings: [VerifyIssue] = []
    /// Manifest objects read (deltas and checkpoints); each that fails to decode is also a problem.
    package var manifestObjects = 0
    /// Manifest sequence of the current version, nil if the manifest did not load.
    package var manifestSequence: UInt64?
    /// Committed epoch of the current version, nil if the manifest did not load.
    package var committedEpoch: Epoch?
    /// SSTs the current version references (an SST referenced twice counts twice).
    package var sstCount = 0
    /// Bytes of the referenced SSTs, per the manifest.
    package var sstBytes: UInt64 = 0
    /// SSTs read in full and checked (each referenced SST, or every object under
    /// `data/` when the version did not load).
    package var sstsChecked = 0
    /// SSTs read in full that passed every check.
    package var sstsVerified = 0
    /// Entries in the SSTs that passed.
    package var entries: UInt64 = 0
    /// Data blocks in the SSTs that passed.
    package var blocks = 0
    /// Objects under `data/` the version does not reference.
    package var orphanCount = 0
    /// Bytes of the orphan objects.
    package var orphanBytes: UInt64 = 0

    /// True when no problem was found.
    package var isClean: Bool { problems.isEmpty }
}
