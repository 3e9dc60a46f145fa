/// What a `RecoveryCheck` found in a store recovered after a crash, checked
/// against the oracle only (never against anything the store says about itself).
public struct RecoveryReport: Sendable {
    /// The recovered committed epoch R (nil when the store did not open).
    public var recovered: UInt64?
    public var lastAcked: UInt64
    public var lastAttempted: UInt64
    public var openEpoch: UInt64?
    /// Keys of the universe read with `get` at R, and rows returned by the full scans.
    public var keysChecked = 0
    public var rowsScanned = 0
    /// The other epoch the store could legitimately have recovered, and how many keys
    /// of the universe differ between its state and R's: what the exact comparison
    /// would have caught had that epoch been (partly) visible.
    public var alternative: (epoch: UInt64, differingKeys: Int)?
    /// Committed epochs above R: acknowledged ones, and the verified base epoch when R is below it.
    public var lostEpochs: [UInt64] = []
    /// The verified epoch the history starts from (the oracle's base).
    public var baseEpoch: UInt64 = 0
    /// Keys showing a value written by an epoch above R, or missing a write of an epoch at or below R.
    public var partialKeys: [String] = []
    /// Keys with a value that belongs to no epoch of the history (an aborted
    /// epoch's, or nobody's), or missing.
    public var wrongKeys: [String] = []
    /// Everything else: R out of range or not attempted, metadata, scan order, read errors, `floe verify` problems.
    public var problems: [String] = []
    /// Total compactions the store's manifest counts.
    public var compactions: UInt64 = 0
    /// Named checkpoints compared with the oracle's state at their epoch.
    public var checkpointsChecked = 0
    /// The oracle's state and metadata at R, when R is an epoch of the history.
    public var expected: (state: StoreState, metadata: [String: [UInt8]])?
    /// Keys already listed in `partialKeys` or `wrongKeys`: each is listed once,
    /// however many reads saw it wrong.
    var flagged: Set<StateKey> = []

    public init(lastAcked: UInt64, lastAttempted: UInt64, openEpoch: UInt64?) {
        self.lastAcked = lastAcked
        self.lastAttempted = lastAttempted
        self.openEpoch = openEpoch
    }

    /// Clean only when the recovered state was actually compared with the oracle's
    /// (`expected` is set) and nothing differed: a state that could not be checked
    /// is never clean.
    public var isClean: Bool {
        recovered != nil && expected != nil && lostEpochs.isEmpty && partialKeys.isEmpty && wrongKeys.isEmpty && problems.isEmpty
    }
}
