import FloeTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import floe

/// The judgement `floe crashtest --zombie` adds (`ZombieCheck`), fed takeovers
/// and zombie records that are right and each way they can be wrong, and what a
/// wrong one does to the run: a check that passed a zombie's acknowledged commit
/// or a takeover below an acknowledged epoch would let the mode pass a broken
/// store.
@Suite struct ZombieCheckTests {
    static let workload = CrashtestWorkload(keyCount: 10)
    static func k(_ i: Int) -> StateKey { workload.key(i) }
    static func v(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// The zombie's oracle at its pause: base 10, epoch 11 acknowledged, epoch 12
    /// aborted, epoch 14 acknowledged, epoch 15 in doubt (intent, no outcome).
    static let paused: [OracleRecord] = [
        .base(epoch: 10, metadata: [:], rows: [k(0): v("a")]),
        .intent(epoch: 11, metadata: [:], writes: [k(1): v("b")]), .ack(epoch: 11),
        .intent(epoch: 12, metadata: [:], writes: [k(2): v("c")]), .abort(epoch: 12),
        .intent(epoch: 14, metadata: [:], writes: [k(3): v("d")]), .ack(epoch: 14),
        .intent(epoch: 15, metadata: [:], writes: [k(4): v("e")]),
    ]
    static var pausedHistory: OracleHistory {
        get throws { try OracleHistory(OracleLog.Contents(records: paused, tornBytes: 0)) }
    }

    // MARK: the takeover

    @Test(arguments: [UInt64(14), 15])
    func takeoverAtTheLastAcknowledgedOrTheInDoubtEpochIsClean(recovered: UInt64) throws {
        let t = ZombieCheck.takeover(paused: try Self.pausedHistory, recovered: recovered)
        #expect(t.lostEpochs.isEmpty && t.problems.isEmpty, "\(t)")
        #expect(t.inDoubtEpoch == 15)
        #expect(t.inDoubtRecovered == (recovered == 15))
    }

    @Test func takeoverBelowAnAcknowledgedEpochLosesIt() throws {
        let t = ZombieCheck.takeover(paused: try Self.pausedHistory, recovered: 11)
        #expect(t.lostEpochs == [14], "\(t)")
        #expect(t.problems.isEmpty, "a lost epoch is counted as lost, not as another problem: \(t)")
    }

    @Test func takeoverBelowTheVerifiedBaseLosesTheBaseToo() throws {
        let t = ZombieCheck.takeover(paused: try Self.pausedHistory, recovered: 9)
        #expect(t.lostEpochs == [10, 11, 14], "\(t)")
    }

    @Test func takeoverAboveTheLastAttemptedEpochIsAProblem() throws {
        let t = ZombieCheck.takeover(paused: try Self.pausedHistory, recovered: 16)
        #expect(t.lostEpochs.isEmpty)
        #expect(t.problems == ["the successor took over at epoch 16, above the last epoch the zombie attempted (15) before its pause"])
    }

    @Test(arguments: [UInt64(12), 13])
    func takeoverAtAnAbortedOrSkippedEpochIsAProblem(recovered: UInt64) throws {
        let t = ZombieCheck.takeover(paused: try Self.pausedHistory, recovered: recovered)
        #expect(t.lostEpochs == [14], "\(t)")
        #expect(t.problems.count == 1 && t.problems[0].contains("epoch \(recovered), which is not an epoch of the zombie's history"), "\(t)")
    }

    // MARK: the zombie after its resume

    @Test func refusedZombieRecordsNothingButIntents() {
        let now = Self.paused + [.intent(epoch: 16, metadata: [:], writes: [Self.k(5): Self.v("f")])]
        let a = ZombieCheck.afterResume(before: Self.paused, now: now, takeover: 14)
        #expect(a == ZombieCheck.AfterResume(attempted: [16]))
    }

    /// The commit it was paused in had landed before the successor's open: the
    /// successor recovered epoch 15, and the zombie acknowledging it is right.
    @Test func acknowledgingTheLandedInDoubtCommitIsLegitimate() {
        let a = ZombieCheck.afterResume(before: Self.paused, now: Self.paused + [.ack(epoch: 15)], takeover: 15)
        #expect(a.landedBeforeTakeover == [15] && a.acksAboveTakeover.isEmpty && a.problems.isEmpty, "\(a)")
    }

    @Test func acknowledgingAnEpochAboveTheTakeoverIsAZombieAck() {
        let now = Self.paused + [.ack(epoch: 15), .intent(epoch: 16, metadata: [:], writes: [:]), .ack(epoch: 16)]
        let a = ZombieCheck.afterResume(before: Self.paused, now: now, takeover: 14)
        #expect(a.acksAboveTakeover == [15, 16] && a.attempted == [16] && a.landedBeforeTakeover.isEmpty, "\(a)")
    }

    @Test func aRewrittenOracleIsAProblem() {
        let a = ZombieCheck.afterResume(before: Self.paused, now: Array(Self.paused.dropLast()), takeover: 14)
        #expect(a.problems == ["the zombie's oracle no longer starts with the 8 records it held during the pause"])
    }

    // MARK: what a zombie ack does to the run

    @Test func aZombieAckFailsTheRunAndCountsOnce() throws {
        var report = ZombieReport(plan: ZombiePlan(seed: 1, iteration: 0, bounds: Self.bounds))
        report.takeover = 14
        report.takeoverCheck = ZombieCheck.takeover(paused: try Self.pausedHistory, recovered: 14)
        report.afterResume = ZombieCheck.afterResume(before: Self.paused, now: Self.paused + [.ack(epoch: 15)], takeover: 14)
        var clean = RecoveryReport(lastAcked: 14, lastAttempted: 14, openEpoch: nil)
        clean.recovered = 14
        clean.expected = ([:], [:])
        #expect(clean.isClean)
        let it = CrashtestIteration(iteration: 0, runMillis: 1, checkMillis: 1, termination: .signalled(SIGKILL), killedByHarness: true,
                                    ops: 0, status: [:], finalLine: nil, arm: nil, fired: false, ackedEpochs: 0, abortedEpochs: 0,
                                    tornBytes: 0, workerProblems: [], report: clean, zombie: report)
        #expect(!it.isClean && it.zombieAcks == [15])
        #expect(!it.isVerificationFailure, "a zombie ack is its own kind of violation")
        var totals = CrashtestTotals()
        totals.zombie = ZombieTotals()
        totals.add(it, compactionsAdded: 0)
        #expect(!totals.passed && totals.violations == 1 && totals.zombie?.zombieAcks == 1)
        let result = try #require(totals.lines.last)
        #expect(result.contains(" zombie_acks=1 ") && result.hasSuffix("status=FAILED"), "\(result)")
    }

    // MARK: the plan and the compactor's output

    static let bounds = ZombiePlan.Bounds(minRunMs: 100, maxRunMs: 600, minPausedMs: 200, maxPausedMs: 1500,
                                          minCompactorGraceMs: 200, maxCompactorGraceMs: 1000)
    /// The paused time is skewed towards its minimum, so some zombies resume before the manifest is pruned past them.
    @Test func pausedTimeIsSkewedTowardsItsMinimum() {
        let b = ZombiePlan.Bounds(minRunMs: 0, maxRunMs: 0, minPausedMs: 0, maxPausedMs: 1500, minCompactorGraceMs: 0, maxCompactorGraceMs: 0)
        let paused = (0..<1000).map { ZombiePlan(seed: 11, iteration: $0, bounds: b).pausedMillis }
        #expect(paused.allSatisfy { (0...1500).contains($0) })
        let short = paused.filter { $0 <= 50 }.count
        #expect((120...250).contains(short), "\(short) of 1000 within 50 ms (sqrt(50/1500) = 18% expected)")
        #expect(paused.filter { $0 >= 750 }.count >= 200, "the long pauses remain")
    }

    @Test func planIsSeededAndWithinItsBounds() {
        var kinds = Set<ZombiePlan.Pause>()
        for i in 0..<60 {
            let p = ZombiePlan(seed: 7, iteration: i, bounds: Self.bounds)
            #expect(p == ZombiePlan(seed: 7, iteration: i, bounds: Self.bounds), "iteration \(i) draws the same plan twice")
            #expect((100...600).contains(p.runMillis) && (200...1500).contains(p.pausedMillis), "\(p)")
            #expect((0.2...1.0).contains(p.compactorGraceSeconds) && (0...ZombiePlan.maxSuccessorKillMs).contains(p.successorKillMillis), "\(p)")
            kinds.insert(p.pause)
        }
        #expect(kinds == Set(ZombiePlan.Pause.allCases))
        #expect(ZombiePlan(seed: 7, iteration: 0, bounds: Self.bounds) != ZombiePlan(seed: 8, iteration: 0, bounds: Self.bounds))
    }

    /// Lines as `floe compact` prints them (one per task, stale task, GC pass with deletions, re-attach).
    @Test func compactorTranscriptCountsItsLines() {
        let out = """
            floe compact: attached to /tmp/ct/store as compactor session 191 (committed epoch 152, 5 L0 sub-levels, 14 SSTs, 31.1 KiB)
            intraL0  in 3 SSTs 1.96 KiB -> L0  out 1 SST 1.32 KiB  8.2 ms
            gc: deleted 7 objects (19.6 KiB), kept 93
            l0ToBase  in 14 SSTs 43.7 KiB -> L4  out 7 SSTs 21.9 KiB  57.1 ms
            stale: compactor session 191 was ended (its lease ran out): attach again (0.4 ms); going on
            floe compact: the session had been ended (its lease ran out); attached again as session 230
            gc: deleted 1 object (3.10 KiB), kept 80
            trivialMove  in 1 SST 4.00 KiB -> L3  out 1 SST 4.00 KiB (moved, not rewritten)  1.1 ms
            floe compact: stopped by SIGTERM after 2.0 s: 3 tasks (intraL0 1, l0ToBase 1, trivialMove 1), read 49.7 KiB, wrote 27.2 KiB, 1 stale, gc deleted 8 objects (22.7 KiB)

            """
        let t = CompactorTranscript(out)
        #expect(t.attaches == 1 && t.reattaches == 1 && t.tasks == 3 && t.stale == 1 && t.gcDeleted == 8, "\(t)")
    }
}
