import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Floe
import FloeTesting
@testable import floe

/// The crash-test oracle (`RecoveryCheck` over an `OracleHistory`) fed stores that
/// recovered wrongly in each way it must catch, and one that recovered right: a
/// check that passed any of the wrong ones would let `floe crashtest` pass a
/// broken store.
@Suite struct RecoveryCheckTests {
    static let workload = CrashtestWorkload(keyCount: 20)
    static func k(_ i: Int) -> StateKey { workload.key(i) }
    static func v(_ s: String) -> [UInt8] { Array(s.utf8) }
    static func meta(_ e: UInt8) -> [String: [UInt8]] { ["m": [e]] }

    /// One committed epoch of a store under test: its writes (nil: delete) and metadata.
    struct StoreEpoch {
        var epoch: UInt64
        var writes: [StateKey: [UInt8]?]
        var metadata: [String: [UInt8]]
    }

    /// The store's history the tests share, with its state after each epoch:
    /// 1: k0=a1 k1=b1; 2: k2=c2, k1 deleted; 3: k0=a3.
    static let e1 = StoreEpoch(epoch: 1, writes: [k(0): v("a1"), k(1): v("b1")], metadata: meta(1))
    static let e2 = StoreEpoch(epoch: 2, writes: [k(2): v("c2"), k(1): nil] as [StateKey: [UInt8]?], metadata: meta(2))
    static let e3 = StoreEpoch(epoch: 3, writes: [k(0): v("a3")], metadata: meta(3))
    static let s1: StoreState = [k(0): v("a1"), k(1): v("b1")]
    static let s2: StoreState = [k(0): v("a1"), k(2): v("c2")]
    static let s3: StoreState = [k(0): v("a3"), k(2): v("c2")]

    /// Writes `epochs` into a new local store, checks it against an oracle of
    /// `records` and removes it.
    static func check(store epochs: [StoreEpoch], oracle records: [OracleRecord]) async throws -> RecoveryReport {
        let path = FileManager.default.temporaryDirectory.path + "/floe-recovery-check-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try await StateStore.open(path: path, options: CrashtestWorkload.verifyOptions)
        for e in epochs {
            for (key, value) in e.writes.sorted(by: { $0.key < $1.key }) {
                if let value {
                    try store.put(TableID(key.table), key: key.key, value: value, epoch: e.epoch)
                } else {
                    try store.delete(TableID(key.table), key: key.key, epoch: e.epoch)
                }
            }
            try await store.checkpoint(epoch: e.epoch, metadata: e.metadata)
        }
        try await store.close()
        let history = try OracleHistory(OracleLog.Contents(records: records, tornBytes: 0))
        return await workload.recoveryCheck.run(storePath: path, history: history)
    }

    static func describe(_ r: RecoveryReport) -> Comment {
        Comment(rawValue: "R \(r.recovered.map(String.init) ?? "?") lost \(r.lostEpochs) partial \(r.partialKeys) "
            + "wrong \(r.wrongKeys) problems \(r.problems)")
    }

    @Test func exactRecoveryIsClean() async throws {
        let r = try await Self.check(store: [Self.e1, Self.e2, Self.e3],
                                     oracle: [.base(epoch: 2, metadata: Self.meta(2), rows: Self.s2),
                                              .intent(epoch: 3, metadata: Self.meta(3), writes: Self.e3.writes), .ack(epoch: 3)])
        #expect(r.isClean, Self.describe(r))
        #expect(r.recovered == 3 && r.keysChecked == Self.workload.keyCount && r.rowsScanned == 2, Self.describe(r))
    }

    /// The case the harness once passed: R below the verified base, nothing
    /// acknowledged in the iteration (`state(at: R)` is nil, no acked epoch above R).
    @Test func recoveryBelowTheVerifiedEpochIsALostEpoch() async throws {
        let r = try await Self.check(store: [Self.e1, Self.e2, Self.e3],
                                     oracle: [.base(epoch: 5, metadata: Self.meta(3), rows: Self.s3)])
        #expect(!r.isClean, Self.describe(r))
        #expect(r.recovered == 3, Self.describe(r))
        #expect(r.lostEpochs == [5], Self.describe(r))
        #expect(r.problems.contains { $0.contains("recovered epoch 3 is below the verified epoch 5") }, Self.describe(r))

        // ... and the run it belongs to fails, with a non-zero exit (`passed` false).
        let it = CrashtestIteration(iteration: 0, runMillis: 1, checkMillis: 1, termination: .signalled(SIGKILL), killedByHarness: true,
                                    ops: 0, status: [:], finalLine: nil, arm: nil, fired: false, ackedEpochs: 0, abortedEpochs: 0,
                                    tornBytes: 0, workerProblems: [], report: r)
        var totals = CrashtestTotals()
        totals.add(it, compactionsAdded: 0)
        #expect(!it.isClean && !totals.passed && totals.lostCommittedEpochs == 1, Self.describe(r))
        #expect(totals.lines.last?.hasSuffix("status=FAILED") == true, "\(totals.lines)")
    }

    @Test func recoveryAboveTheLastAttemptedEpochFails() async throws {
        let r = try await Self.check(store: [Self.e1, Self.e2, Self.e3],
                                     oracle: [.base(epoch: 1, metadata: Self.meta(1), rows: Self.s1),
                                              .intent(epoch: 2, metadata: Self.meta(2), writes: Self.e2.writes), .ack(epoch: 2)])
        #expect(!r.isClean, Self.describe(r))
        #expect(r.problems.contains { $0.contains("recovered epoch 3 is above the last epoch the worker attempted (2)") }, Self.describe(r))
    }

    @Test func recoveryOfAnAbortedEpochFails() async throws {
        let r = try await Self.check(store: [Self.e1, Self.e2, Self.e3],
                                     oracle: [.base(epoch: 2, metadata: Self.meta(2), rows: Self.s2),
                                              .intent(epoch: 3, metadata: Self.meta(3), writes: Self.e3.writes), .abort(epoch: 3)])
        #expect(!r.isClean && r.expected == nil, Self.describe(r))
        #expect(!r.problems.isEmpty, Self.describe(r))
    }

    /// The store committed only part of the in-doubt epoch 2 (its delete of k1 is missing).
    @Test func partOfAnEpochIsAPartiallyVisibleEpoch() async throws {
        let partial = StoreEpoch(epoch: 2, writes: [Self.k(2): Self.v("c2")], metadata: Self.meta(2))
        let r = try await Self.check(store: [Self.e1, partial],
                                     oracle: [.base(epoch: 1, metadata: Self.meta(1), rows: Self.s1),
                                              .intent(epoch: 2, metadata: Self.meta(2), writes: Self.e2.writes)])
        #expect(!r.isClean, Self.describe(r))
        #expect(r.partialKeys.count == 1 && r.partialKeys[0].contains("misses the delete of epoch 2 <= R"), Self.describe(r))
    }

    /// The store shows at epoch 2 a write the oracle gives to epoch 3.
    @Test func aLaterEpochsWriteIsAPartiallyVisibleEpoch() async throws {
        let early = StoreEpoch(epoch: 2, writes: Self.e2.writes.merging(Self.e3.writes) { a, _ in a }, metadata: Self.meta(2))
        let r = try await Self.check(store: [Self.e1, early],
                                     oracle: [.base(epoch: 1, metadata: Self.meta(1), rows: Self.s1),
                                              .intent(epoch: 2, metadata: Self.meta(2), writes: Self.e2.writes), .ack(epoch: 2),
                                              .intent(epoch: 3, metadata: Self.meta(3), writes: Self.e3.writes)])
        #expect(!r.isClean, Self.describe(r))
        #expect(r.partialKeys.contains { $0.contains("shows the write of epoch 3 > R") }, Self.describe(r))
    }

    @Test func wrongMetadataFails() async throws {
        var wrong = Self.e3
        wrong.metadata = Self.meta(9)
        let r = try await Self.check(store: [Self.e1, Self.e2, wrong],
                                     oracle: [.base(epoch: 2, metadata: Self.meta(2), rows: Self.s2),
                                              .intent(epoch: 3, metadata: Self.meta(3), writes: Self.e3.writes), .ack(epoch: 3)])
        #expect(!r.isClean, Self.describe(r))
        #expect(r.problems.contains { $0.hasPrefix("committed metadata") }, Self.describe(r))
    }

    @Test func anExtraKeyFails() async throws {
        var extra = Self.e3
        extra.writes[Self.k(7)] = Self.v("nobody wrote this")
        let r = try await Self.check(store: [Self.e1, Self.e2, extra],
                                     oracle: [.base(epoch: 2, metadata: Self.meta(2), rows: Self.s2),
                                              .intent(epoch: 3, metadata: Self.meta(3), writes: Self.e3.writes), .ack(epoch: 3)])
        #expect(!r.isClean, Self.describe(r))
        let name = "key \(KeyText.printable(Self.k(7).key))"
        #expect(r.wrongKeys.count == 1 && r.wrongKeys[0].contains(name) && r.wrongKeys[0].contains("expected absent"), Self.describe(r))
    }

    @Test func aMissingKeyFails() async throws {
        var base = Self.s2
        base[Self.k(9)] = Self.v("verified before")
        let r = try await Self.check(store: [Self.e1, Self.e2, Self.e3],
                                     oracle: [.base(epoch: 2, metadata: Self.meta(2), rows: base),
                                              .intent(epoch: 3, metadata: Self.meta(3), writes: Self.e3.writes), .ack(epoch: 3)])
        #expect(!r.isClean, Self.describe(r))
        let name = "key \(KeyText.printable(Self.k(9).key))"
        // Missed by the get and by the scan: reported once.
        #expect(r.wrongKeys.count == 1 && r.wrongKeys[0].contains(name) && r.wrongKeys[0].contains("is absent"), Self.describe(r))
    }

    /// A report whose state was never compared (no expected state) is not clean even
    /// with nothing listed, and the run it is in fails.
    @Test func anUncheckedStateFailsTheRun() {
        var r = RecoveryReport(lastAcked: 5, lastAttempted: 5, openEpoch: nil)
        r.recovered = 5
        let it = CrashtestIteration(iteration: 0, runMillis: 1, checkMillis: 1, termination: .signalled(SIGKILL), killedByHarness: true,
                                    ops: 0, status: [:], finalLine: nil, arm: nil, fired: false, ackedEpochs: 0, abortedEpochs: 0,
                                    tornBytes: 0, workerProblems: [], report: r)
        var totals = CrashtestTotals()
        totals.add(it, compactionsAdded: 0)
        #expect(!r.isClean && it.isVerificationFailure && !totals.passed)
        #expect(totals.lines.last?.contains("verification_failures=1") == true && totals.lines.last?.hasSuffix("status=FAILED") == true,
                "\(totals.lines)")
    }
}
