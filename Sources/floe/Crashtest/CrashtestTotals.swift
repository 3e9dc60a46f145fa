/// Totals of a `floe crashtest` run, printed at the end; the last line is the
/// machine-readable `result:` line the tests parse.
struct CrashtestTotals {
    var iterations = 0
    var killed = 0
    var stoppedThemselves = 0
    var crashedAtFailpoints = 0
    var ackedEpochs = 0
    var abortedEpochs = 0
    /// Failed checkpoints the workers handled under injected errors (as of their last status lines).
    var injectedErrors = 0
    var retries = 0
    var reopens = 0
    /// The worker died between intent and acknowledgement and the store holds that epoch (commit landed, ack lost).
    var inDoubtCommitted = 0
    /// ... and the store does not hold it.
    var inDoubtRolledBack = 0
    var lostCommittedEpochs = 0
    var partiallyVisibleEpochs = 0
    var verificationFailures = 0
    var keysChecked = 0
    var rowsScanned = 0
    var tornTails = 0
    var compactions: UInt64 = 0
    /// Open epochs spilled to SSTs by the workers (small-budget iterations).
    var spills = 0
    /// Named checkpoints read back and compared with the oracle.
    var checkpointsChecked = 0
    var unfiredFailpoints = 0
    var wallSeconds = 0.0
    /// With `--zombie`: what the zombies, takeovers and compactors did (nil in the other modes).
    var zombie: ZombieTotals?

    /// Iterations whose check was not clean, whatever kind of failure it found.
    var violations = 0

    var passed: Bool {
        violations == 0 && lostCommittedEpochs == 0 && partiallyVisibleEpochs == 0 && verificationFailures == 0 && unfiredFailpoints == 0
            && (zombie?.zombieAcks ?? 0) == 0
    }

    mutating func add(_ it: CrashtestIteration, compactionsAdded: UInt64) {
        iterations += 1
        if it.killedByHarness { killed += 1 } else if it.crashedAtFailpoint { crashedAtFailpoints += 1 } else { stoppedThemselves += 1 }
        ackedEpochs += it.ackedEpochs
        abortedEpochs += it.abortedEpochs
        injectedErrors += Int(it.status["injected"] ?? "") ?? 0
        retries += Int(it.status["retries"] ?? "") ?? 0
        reopens += Int(it.status["reopens"] ?? "") ?? 0
        spills += Int(it.status["spills"] ?? "") ?? 0
        let r = it.report
        if let open = r.openEpoch, let recovered = r.recovered {
            if recovered == open { inDoubtCommitted += 1 } else { inDoubtRolledBack += 1 }
        }
        lostCommittedEpochs += it.lostEpochs.count
        if let z = it.zombie { zombie = (zombie ?? ZombieTotals()) + z }
        if !r.partialKeys.isEmpty { partiallyVisibleEpochs += 1 }
        if it.isVerificationFailure { verificationFailures += 1 }
        if !it.isClean { violations += 1 }
        keysChecked += r.keysChecked
        rowsScanned += r.rowsScanned
        checkpointsChecked += r.checkpointsChecked
        if it.tornBytes > 0 { tornTails += 1 }
        compactions += compactionsAdded
    }

    var lines: [String] {
        [
            "iterations                 \(iterations) (killed \(killed), stopped themselves \(stoppedThemselves), crashed at a failpoint \(crashedAtFailpoints))",
            "epochs acknowledged        \(ackedEpochs) (aborted after injected errors: \(abortedEpochs))",
            "failed checkpoints handled \(injectedErrors) (retried \(retries), store reopened \(reopens))",
            "killed inside a commit     \(inDoubtCommitted + inDoubtRolledBack) (recovered with the epoch \(inDoubtCommitted), without it \(inDoubtRolledBack))",
            "checked                    \(keysChecked) gets, \(rowsScanned) scanned rows, \(checkpointsChecked) named checkpoints; torn oracle tails ignored \(tornTails)",
            "compactions                \(compactions) (open epochs spilled: \(spills))",
            "lost committed epochs      \(lostCommittedEpochs)",
            "partially visible epochs   \(partiallyVisibleEpochs)",
            "verification failures      \(verificationFailures)",
        ] + (zombie?.lines ?? []) + [
            "wall time                  \(fmt(wallSeconds, 1)) s",
            "result: iterations=\(iterations) lost_committed_epochs=\(lostCommittedEpochs) partially_visible_epochs=\(partiallyVisibleEpochs) "
                + "verification_failures=\(verificationFailures) unfired_failpoints=\(unfiredFailpoints) acked_epochs=\(ackedEpochs) "
                + "in_doubt_committed=\(inDoubtCommitted) compactions=\(compactions)" + (zombie.map { " " + $0.resultFields } ?? "")
                + " status=\(passed ? "PASSED" : "FAILED")",
        ]
    }
}

