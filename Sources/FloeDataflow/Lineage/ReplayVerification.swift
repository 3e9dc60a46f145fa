import Floe

/// What `ReplayVerifier.verify` found: the epochs it replayed and the first
/// epoch whose views differ, if any.
public struct ReplayVerification: Sendable {
    /// One view that differs at `epoch`.
    public struct Difference: Sendable, Equatable, CustomStringConvertible {
        public enum Kind: Sendable, Equatable {
            /// The replay's digest at the end of the epoch is not the recorded one.
            case replay
            /// The view's rows in the recorded store are not what its recorded
            /// digest says (checked at the last epoch): the store was changed
            /// outside the pipeline, or the digest was.
            case contents
        }

        public var epoch: Epoch
        public var view: String
        public var kind: Kind
        /// The digest the store recorded (nil: the view is not in the record).
        public var recorded: ViewDigest?
        /// The replay's digest, or for `.contents` the digest of the stored rows.
        public var found: ViewDigest?

        public var description: String {
            let r = recorded.map { "\($0)" } ?? "absent"
            let f = found.map { "\($0)" } ?? "absent"
            switch kind {
            case .replay: return "epoch \(epoch) view \(view): recorded \(r), replay \(f)"
            case .contents: return "epoch \(epoch) view \(view): recorded \(r), stored rows \(f)"
            }
        }
    }

    /// The epoch the replay started from (its state is the scratch store's) and the last one replayed.
    public var fromEpoch: Epoch = 0
    public var toEpoch: Epoch = 0
    /// Source rows (offsets) the epochs to replay read (all of them, also when the
    /// replay stopped early at a difference).
    public var rowsReplayed: UInt64 = 0
    /// Every view that differs at the first epoch with a difference (empty: verified).
    public var differences: [Difference] = []

    /// The first epoch with a difference (nil: every epoch matched).
    public var firstBadEpoch: Epoch? { differences.first?.epoch }
    public var passed: Bool { differences.isEmpty }
}
