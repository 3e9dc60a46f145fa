/// The oracle's records read as a history: the verified base state, then each
/// epoch the worker attempted (intent) with its outcome — acknowledged,
/// aborted, or still open when the worker died (at most one, the last).
///
/// A store recovered after the kill must hold exactly the state of one epoch of
/// the chain (base, acknowledged epochs, the open epoch) that is at least the
/// last acknowledged one: `lastAcked <= R <= lastAttempted`. `RecoveryCheck`
/// compares a recovered store with it.
public struct OracleHistory: Sendable {
    /// What became of an epoch's intent.
    public enum Outcome: Equatable, Sendable { case acked, aborted, open }

    /// One attempted epoch.
    public struct Step: Sendable {
        public var epoch: UInt64
        /// The metadata its commit carries.
        public var metadata: [String: [UInt8]]
        /// Its net writes; nil is a delete.
        public var writes: [StateKey: [UInt8]?]
        public var outcome: Outcome
    }

    public let baseEpoch: UInt64
    public let baseState: StoreState
    public let baseMetadata: [String: [UInt8]]
    public let steps: [Step]
    /// Bytes of a torn last append, ignored.
    public let tornBytes: Int

    /// `init(_:)` of records held in memory (an in-process harness).
    public init(records: [OracleRecord]) throws {
        try self.init(OracleLog.Contents(records: records))
    }

    /// Checks the order rules (one base first; intents ascending; each ack or abort
    /// closes the open intent of its epoch; at most one intent left open) and
    /// throws `CrashtestError` naming the first record that breaks them.
    public init(_ contents: OracleLog.Contents) throws {
        guard case let .base(epoch, metadata, rows)? = contents.records.first else {
            throw CrashtestError("oracle does not start with a base record")
        }
        var steps: [Step] = []
        var last = epoch
        for (i, record) in contents.records.enumerated().dropFirst() {
            let open = steps.last?.outcome == .open
            switch record {
            case .base:
                throw CrashtestError("oracle record \(i): a second base record")
            case let .intent(e, metadata, writes):
                guard !open else { throw CrashtestError("oracle record \(i): intent for epoch \(e) while epoch \(steps.last!.epoch) is open") }
                guard e > last else { throw CrashtestError("oracle record \(i): intent for epoch \(e) not above epoch \(last)") }
                steps.append(Step(epoch: e, metadata: metadata, writes: writes, outcome: .open))
                last = e
            case let .ack(e), let .abort(e):
                guard open, steps.last!.epoch == e else {
                    throw CrashtestError("oracle record \(i): \(record.kindName) for epoch \(e), which is not the open intent")
                }
                if case .ack = record { steps[steps.count - 1].outcome = .acked } else { steps[steps.count - 1].outcome = .aborted }
            }
        }
        baseEpoch = epoch
        baseState = rows
        baseMetadata = metadata
        self.steps = steps
        tornBytes = contents.tornBytes
    }

    /// The newest acknowledged epoch (the base epoch if none).
    public var lastAcked: UInt64 { steps.last(where: { $0.outcome == .acked })?.epoch ?? baseEpoch }

    /// The epoch of the intent left open, if the worker died between intent and outcome.
    public var openEpoch: UInt64? { steps.last.flatMap { $0.outcome == .open ? $0.epoch : nil } }

    /// The newest epoch written to the oracle and not aborted.
    public var lastAttempted: UInt64 { openEpoch ?? lastAcked }

    /// Epochs the store may have committed, ascending: the base, each acknowledged epoch, the open one.
    public var chain: [UInt64] { [baseEpoch] + steps.filter { $0.outcome != .aborted }.map(\.epoch) }

    /// Acknowledged epochs above `epoch`.
    public func ackedEpochs(above epoch: UInt64) -> [UInt64] {
        steps.filter { $0.outcome == .acked && $0.epoch > epoch }.map(\.epoch)
    }

    /// The state and metadata the store must show at `epoch`, or nil if `epoch`
    /// is not in the chain. Metadata merges key by key, as the store merges it.
    public func state(at epoch: UInt64) -> (state: StoreState, metadata: [String: [UInt8]])? {
        guard chain.contains(epoch) else { return nil }
        var state = baseState, metadata = baseMetadata
        for s in steps where s.outcome != .aborted && s.epoch <= epoch {
            for (k, v) in s.writes { state[k] = v }
            metadata.merge(s.metadata) { _, new in new }
        }
        return (state, metadata)
    }

    /// The newest epoch of the chain at or below `epoch` that wrote `key`.
    public func lastWriter(of key: StateKey, atOrBelow epoch: UInt64) -> UInt64? {
        steps.last { $0.outcome != .aborted && $0.epoch <= epoch && $0.writes[key] != nil }?.epoch
    }

    /// The value of `key` after every epoch of the chain below `epoch` (nil: absent).
    public func value(of key: StateKey, below epoch: UInt64) -> [UInt8]? {
        var v = baseState[key]
        for s in steps where s.outcome != .aborted && s.epoch < epoch {
            if let w = s.writes[key] { v = w }
        }
        return v
    }

    /// The epochs of the chain above `epoch` that wrote `key`, with the value they wrote (nil: a delete).
    public func writes(of key: StateKey, above epoch: UInt64) -> [(epoch: UInt64, value: [UInt8]?)] {
        steps.filter { $0.outcome != .aborted && $0.epoch > epoch }.compactMap { s in
            s.writes[key].map { (s.epoch, $0) }
        }
    }
}

