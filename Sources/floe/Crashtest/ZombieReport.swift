/// What `--zombie` adds to an iteration's result (`CrashtestIteration.zombie`):
/// where the zombie was paused, the successor's takeover, what the zombie did
/// after its resume, and the compactor's work.
struct ZombieReport {
    var plan: ZombiePlan
    /// The zombie stopped inside a commit: its intent fsynced, its `checkpoint` not returned.
    var pausedInCommit = false
    /// The epoch the successor found committed and continued from (nil: it never took over).
    var takeover: UInt64?
    var takeoverCheck = ZombieCheck.Takeover()
    var afterResume = ZombieCheck.AfterResume()
    /// When the zombie resumed, the manifest's oldest delta was above the sequence the
    /// zombie would append next: its next names had been pruned, so only the
    /// predecessor check could fence it.
    var prunedPastZombie = false
    /// The zombie's last line (`fenced: what: error`, or how else it ended).
    var zombieEnd: String?
    /// The zombie's first refused call after the resume was a checkpoint (else a write).
    var commitRefused = false
    var writeRefused = false
    /// Reads of the zombie in flight across its pause that failed or differed (tolerated).
    var staleReads = 0
    var compactor = CompactorTranscript()
    /// Objects the successor's GC deleted (as of its last status line).
    var successorGC = 0
    /// Problems with the processes: the zombie did not end on `fenced`, the compactor
    /// failed, a process did not start or stop in time.
    var problems: [String] = []

    /// Every problem, as the violation report lists them (lost epochs and zombie
    /// acknowledgements are spelled out there from their lists).
    var otherProblems: [String] { takeoverCheck.problems + afterResume.problems + problems }
    var isClean: Bool { takeoverCheck.lostEpochs.isEmpty && afterResume.acksAboveTakeover.isEmpty && otherProblems.isEmpty }

    /// The part of the iteration line about the zombie.
    var summary: String {
        var s = "zombie \(plan.pause.rawValue)" + (pausedInCommit ? " (in commit)" : "")
        if let takeover {
            s += ", takeover \(takeover)"
            if let e = takeoverCheck.inDoubtEpoch { s += " (in doubt \(e): \(takeoverCheck.inDoubtRecovered ? "landed" : "not landed"))" }
        } else {
            s += ", no takeover"
        }
        if prunedPastZombie { s += ", pruned past it" }
        s += commitRefused ? ", commit refused" : writeRefused ? ", write refused" : ", nothing refused"
        if !afterResume.landedBeforeTakeover.isEmpty { s += ", acked its landed commit \(Self.epochs(afterResume.landedBeforeTakeover))" }
        if !afterResume.acksAboveTakeover.isEmpty { s += ", ACKED \(Self.epochs(afterResume.acksAboveTakeover))" }
        if staleReads > 0 { s += ", stale reads \(staleReads)" }
        s += "; compactor \(compactor.tasks) tasks \(compactor.stale) stale gc \(compactor.gcDeleted)"
        return s
    }

    /// `40,41,42` or, for more than five, `40,41,42,44,45... (100 epochs)`.
    static func epochs(_ list: [UInt64], limit: Int = 5) -> String {
        let shown = list.prefix(limit).map(String.init).joined(separator: ",")
        return list.count > limit ? "\(shown)... (\(list.count) epochs)" : shown
    }
}
