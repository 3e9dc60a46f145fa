import Foundation
import Testing
import Floe
import FloeTesting

/// The oracle on its own: `RecoveryCheck.judge` fed seeded histories
/// (`SyntheticHistory`) with recovered states that are right, and states wrong
/// in each way a crash test must catch. Every expectation names its seed;
/// `FLOE_TEST_SEED=<seed>` replays one.
@Suite struct OracleTests {
    static var seeds: [UInt64] {
        if let text = ProcessInfo.processInfo.environment["FLOE_TEST_SEED"], let seed = UInt64(text) { return [seed] }
        return Array(0..<40)
    }

    static func judge(_ h: SyntheticHistory, epoch: UInt64, state: StoreState,
                      metadata: [String: [UInt8]]? = nil) throws -> RecoveryReport {
        let history = try OracleHistory(records: h.records)
        return RecoveryCheck(universe: h.universe)
            .judge(history, recovered: epoch, metadata: metadata ?? h.metadata[epoch] ?? [:], state: state)
    }

    static func describe(_ h: SyntheticHistory, _ r: RecoveryReport) -> Comment {
        Comment(rawValue: "seed \(h.seed) (replay: FLOE_TEST_SEED=\(h.seed)): R \(r.recovered.map(String.init) ?? "?") "
            + "lost \(r.lostEpochs) partial \(r.partialKeys) wrong \(r.wrongKeys) problems \(r.problems)")
    }

    static func name(_ k: StateKey) -> String { "table \(k.table) key \(KeyText.printable(k.key))" }

    @Test(arguments: seeds) func eitherLegalEpochRecoveredExactlyIsClean(seed: UInt64) throws {
        let h = SyntheticHistory(seed: seed)
        for epoch in [h.lastAckedEpoch, h.openEpoch] {
            let r = try Self.judge(h, epoch: epoch, state: h.states[epoch]!)
            #expect(r.isClean && r.recovered == epoch && r.expected?.state == h.states[epoch], Self.describe(h, r))
        }
    }

    @Test(arguments: seeds) func aLostCommittedWriteIsCaught(seed: UInt64) throws {
        let h = SyntheticHistory(seed: seed)
        var state = h.states[h.lastAckedEpoch]!
        state[h.lastWriteKey] = h.lastWritePrevious
        let r = try Self.judge(h, epoch: h.lastAckedEpoch, state: state)
        #expect(!r.isClean, Self.describe(h, r))
        #expect(r.partialKeys.count == 1 && r.partialKeys[0].contains(Self.name(h.lastWriteKey))
                && r.partialKeys[0].contains("misses the write of epoch \(h.lastAckedEpoch) <= R"), Self.describe(h, r))

        // Recovering the epoch before it, whole, loses the acknowledged epoch.
        let before = h.deleteEpoch
        let lost = try Self.judge(h, epoch: before, state: h.states[before]!)
        #expect(!lost.isClean && lost.lostEpochs == [h.lastAckedEpoch], Self.describe(h, lost))
    }

    @Test(arguments: seeds) func aPartiallyVisibleEpochIsCaught(seed: UInt64) throws {
        let h = SyntheticHistory(seed: seed)
        var state = h.states[h.lastAckedEpoch]!
        state[h.openKey] = h.openValue
        let r = try Self.judge(h, epoch: h.lastAckedEpoch, state: state)
        #expect(!r.isClean, Self.describe(h, r))
        #expect(r.partialKeys.count == 1 && r.partialKeys[0].contains(Self.name(h.openKey))
                && r.partialKeys[0].contains("shows the write of epoch \(h.openEpoch) > R"), Self.describe(h, r))

        // The open epoch's metadata without its writes is partial too.
        let m = try Self.judge(h, epoch: h.lastAckedEpoch, state: h.states[h.lastAckedEpoch]!, metadata: h.metadata[h.openEpoch])
        #expect(!m.isClean && m.problems.contains { $0.hasPrefix("committed metadata") }, Self.describe(h, m))
    }

    @Test(arguments: seeds) func aResurrectedDeleteIsCaught(seed: UInt64) throws {
        let h = SyntheticHistory(seed: seed)
        var state = h.states[h.lastAckedEpoch]!
        #expect(state[h.deletedKey] == nil, "seed \(seed): the generator's deleted key is live")
        state[h.deletedKey] = h.deletedValue
        let r = try Self.judge(h, epoch: h.lastAckedEpoch, state: state)
        #expect(!r.isClean, Self.describe(h, r))
        #expect(r.partialKeys.count == 1 && r.partialKeys[0].contains(Self.name(h.deletedKey))
                && r.partialKeys[0].contains("misses the delete of epoch \(h.deleteEpoch) <= R"), Self.describe(h, r))
    }

    @Test(arguments: seeds) func aValueOfAnUncommittedEpochIsCaught(seed: UInt64) throws {
        let h = SyntheticHistory(seed: seed)
        var state = h.states[h.lastAckedEpoch]!
        state[h.abortedKey] = h.abortedValue
        let r = try Self.judge(h, epoch: h.lastAckedEpoch, state: state)
        #expect(!r.isClean && r.partialKeys.isEmpty, Self.describe(h, r))
        #expect(r.wrongKeys.count == 1 && r.wrongKeys[0].contains(Self.name(h.abortedKey)), Self.describe(h, r))

        // A store that recovered the aborted epoch itself cannot be checked: a failure.
        let aborted = try Self.judge(h, epoch: h.abortedEpoch, state: state)
        #expect(!aborted.isClean && aborted.expected == nil
                && aborted.problems.contains { $0.contains("is not an epoch of the history") }, Self.describe(h, aborted))
    }

    /// The oracle file round-trips its records, and a torn last append is ignored, never misread.
    @Test(arguments: seeds) func theOracleFileKeepsEveryWholeRecord(seed: UInt64) throws {
        let h = SyntheticHistory(seed: seed)
        let bytes = h.records.reduce(OracleLog.magic) { $0 + OracleLog.frame($1) }
        let whole = try OracleLog.decode(bytes, path: "synthetic")
        #expect(whole == OracleLog.Contents(records: h.records, tornBytes: 0), "seed \(seed)")
        var rng = SplitMix64(seed: seed)
        let last = OracleLog.frame(h.records.last!)
        let cut = 1 + Int(rng.next() % UInt64(last.count - 1))
        let torn = try OracleLog.decode(Array(bytes.dropLast(cut)), path: "synthetic")
        #expect(torn == OracleLog.Contents(records: Array(h.records.dropLast()), tornBytes: last.count - cut), "seed \(seed) cut \(cut)")
    }
}
