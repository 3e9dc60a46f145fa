import Foundation
import Testing
@testable import Floe

/// `floe crashtest --zombie` end to end, through the built `floe` executable (as
/// `CrashtestProcessTests` runs the other modes): a writer paused (sometimes
/// inside a commit) while a successor takes the store over beside a standalone
/// compactor with GC, then resumed, must be refused and must get no epoch
/// acknowledged; and the harness must report a zombie whose commits do land.
@Suite(.serialized) struct CrashtestZombieProcessTests {
    typealias Run = CrashtestProcessTests

    /// Seed 3's first four iterations pause the zombie before a commit, inside one,
    /// and twice anywhere (the plan is drawn from the seed: `ZombiePlan`).
    @Test func resumedZombiesAreRefusedAndAcknowledgeNothing() throws {
        let seed: UInt64 = 3
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        let r = try Run.floe(["crashtest", "--path", dir.path, "--zombie", "--iterations", "4", "--seed", "\(seed)", "--keys", "200",
                              "--max-run-ms", "300", "--max-paused-ms", "700"], in: dir)
        let context = Comment(rawValue: "seed \(seed)\n\(r.transcript)")
        #expect(r.status == 0, context)
        #expect(r.result["status"] == "PASSED", context)
        #expect(r.result["iterations"] == "4" && r.result["takeovers"] == "4", context)
        #expect(r.result["zombie_acks"] == "0", context)
        for name in ["lost_committed_epochs", "partially_visible_epochs", "verification_failures"] {
            #expect(r.result[name] == "0", "\(name)\n\(context.rawValue)")
        }
        // Every resumed zombie ended on a fenced error; the one paused right before its
        // commit tried that commit first, so at least one refusal was of a commit.
        #expect(r.iterations.count == 4, context)
        #expect(r.iterations.allSatisfy { $0.contains("commit refused") || $0.contains("write refused") }, context)
        #expect((Int(r.result["zombie_commits_refused"] ?? "") ?? 0) >= 1, context)
        #expect(["before-commit", "in-commit", "anywhere"].allSatisfy { kind in r.iterations.contains { $0.contains("zombie \(kind)") } },
                context)
        // The successors committed on top of the takeovers, the compactor beside them.
        #expect((Int(r.result["acked_epochs"] ?? "") ?? 0) >= 4, context)
        #expect((Int(r.result["compactor_tasks"] ?? "") ?? 0) > 0, context)
        #expect(r.iterations.allSatisfy { Run.field($0, "keys") == "200" }, context)
    }

    /// The successor does not open the store (`--sabotage zombie-unfenced`), so the
    /// resumed zombie's commits really land: the run must fail on its
    /// acknowledgements, and the printed replay must fail the same way.
    @Test func aZombieWhoseCommitsLandIsReportedWithAReplay() throws {
        let seed: UInt64 = 5
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        let r = try Run.floe(["crashtest", "--path", dir.path, "--zombie", "--sabotage", "zombie-unfenced", "--iterations", "3",
                              "--seed", "\(seed)", "--keys", "100", "--max-run-ms", "300", "--max-paused-ms", "400"], in: dir)
        let context = Comment(rawValue: "seed \(seed)\n\(r.transcript)")
        #expect(r.status == 1, context)
        #expect(r.result["status"] == "FAILED", context)
        #expect(r.result["iterations"] == "1", "the run stops at the first violation\n\(context.rawValue)")
        #expect((Int(r.result["zombie_acks"] ?? "") ?? 0) >= 1, context)
        #expect(r.result["zombie_commits_refused"] == "0" && r.result["zombie_writes_refused"] == "0", context)
        #expect(r.stdout.contains("VIOLATION in iteration 0 (seed \(seed))"), context)
        #expect(r.stdout.contains("  a fenced writer's commit succeeded: the zombie acknowledged epoch"), context)

        let words = try #require(r.replayArguments, context)
        #expect(words.contains("--zombie") && words.contains("zombie-unfenced"), context)
        let again = try Run.floe(words, in: dir)
        let againContext = Comment(rawValue: "replay of seed \(seed)\n\(again.transcript)")
        #expect(again.stdout.contains("replaying from the state saved before iteration 0"), againContext)
        #expect(again.status == 1 && again.result["status"] == "FAILED", againContext)
        #expect((Int(again.result["zombie_acks"] ?? "") ?? 0) >= 1, againContext)
    }
}
