/// The `--zombie` part of a run's totals (`CrashtestTotals.zombie`): where the
/// zombies were paused, what the takeovers recovered, what the resumed zombies
/// were refused, and the compactors' work. `zombieAcks` must stay 0: each is a
/// fenced writer's commit that succeeded.
struct ZombieTotals {
    var pauses: [ZombiePlan.Pause: Int] = [:]
    /// Pauses that landed inside a commit (intent fsynced, checkpoint not returned).
    var pausedInCommit = 0
    var takeovers = 0
    /// Takeovers with an epoch in doubt, by whether the successor recovered it.
    var inDoubtRecovered = 0
    var inDoubtNotRecovered = 0
    /// Zombies resumed after every manifest name they knew had been pruned.
    var prunedPastZombie = 0
    var commitsRefused = 0
    var writesRefused = 0
    /// The paused commit had landed before the takeover; the resumed zombie acknowledged it (legitimately).
    var landedAcks = 0
    var zombieAcks = 0
    var zombieAttempts = 0
    var staleReads = 0
    var compactor = CompactorTranscript()
    var successorGC = 0

    static func + (t: ZombieTotals, z: ZombieReport) -> ZombieTotals {
        var t = t
        t.pauses[z.plan.pause, default: 0] += 1
        if z.pausedInCommit { t.pausedInCommit += 1 }
        if z.takeover != nil {
            t.takeovers += 1
            if z.takeoverCheck.inDoubtEpoch != nil {
                if z.takeoverCheck.inDoubtRecovered { t.inDoubtRecovered += 1 } else { t.inDoubtNotRecovered += 1 }
            }
        }
        if z.prunedPastZombie { t.prunedPastZombie += 1 }
        if z.commitRefused { t.commitsRefused += 1 }
        if z.writeRefused { t.writesRefused += 1 }
        t.landedAcks += z.afterResume.landedBeforeTakeover.count
        t.zombieAcks += z.afterResume.acksAboveTakeover.count
        t.zombieAttempts += z.afterResume.attempted.count
        t.staleReads += z.staleReads
        t.compactor += z.compactor
        t.successorGC += z.successorGC
        return t
    }

    var lines: [String] {
        let kinds = ZombiePlan.Pause.allCases.map { "\($0.rawValue) \(pauses[$0] ?? 0)" }.joined(separator: ", ")
        return [
            "zombie pauses              \(kinds); landed inside a commit \(pausedInCommit)",
            "takeovers                  \(takeovers) (epoch in doubt recovered \(inDoubtRecovered), not recovered \(inDoubtNotRecovered)); "
                + "zombie's manifest names all pruned before its resume \(prunedPastZombie)",
            "zombie after its resume    commits refused \(commitsRefused), writes refused \(writesRefused), epochs attempted "
                + "\(zombieAttempts), landed commit acknowledged \(landedAcks), stale reads tolerated \(staleReads)",
            "zombie acks                \(zombieAcks)",
            "compactor                  \(compactor.tasks) tasks, \(compactor.stale) stale, re-attached \(compactor.reattaches), "
                + "gc deleted \(compactor.gcDeleted) objects; successor gc deleted \(successorGC)",
        ]
    }

    /// The fields of the `result:` line.
    var resultFields: String {
        "zombie_commits_refused=\(commitsRefused) zombie_writes_refused=\(writesRefused) zombie_acks=\(zombieAcks) "
            + "takeovers=\(takeovers) pruned_past_zombie=\(prunedPastZombie) compactor_tasks=\(compactor.tasks) "
            + "compactor_stale=\(compactor.stale) compactor_gc_deleted=\(compactor.gcDeleted)"
    }
}
