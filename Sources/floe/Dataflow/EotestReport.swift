/// The totals of a `floe eotest` run and its exit rule; the last line is a
/// machine-readable `result:` line.
struct EotestReport {
    var passed = 0
    var failed = 0
    var inconclusive = 0
    /// Kills planned, landed (the child died of them) and landed after a commit, per kind.
    var planned: [String: Int] = [:]
    var landed: [String: Int] = [:]
    var afterCommit: [String: Int] = [:]
    /// Per sink: rows lost and duplicated over every schedule and view.
    var lost: [String: Int] = [:]
    var duplicated: [String: Int] = [:]
    /// File sink epochs missing, repeated, out of order and beyond the commit.
    var missingEpochs = 0
    var repeatedEpochs = 0
    var outOfOrderEpochs = 0
    var epochsBeyondCommit = 0
    var viewsDiffering = 0
    var otherProblems = 0
    var committedEpochs: UInt64 = 0
    var recoveryMs: [Int] = []
    var wallSeconds = 0.0
    /// Seeds of the failed schedules (for the summary).
    var failedSchedules: [Int] = []

    static let kinds = ["timed", "failpoint", "recovery"]
    /// A run with inconclusive schedules (and no failure) passes only when at least
    /// this share of its schedules passed.
    static let minimumPassedShare = 0.9

    var schedules: Int { passed + failed + inconclusive }

    mutating func add(_ r: EotestScheduleResult) {
        switch r.verdict {
        case .passed: passed += 1
        case .failed: failed += 1; failedSchedules.append(r.schedule.index)
        case .inconclusive: inconclusive += 1
        }
        for (run, outcome) in zip(r.schedule.runs, r.runs) {
            guard let kind = run.kill?.kind else { continue }
            planned[kind, default: 0] += 1
            if outcome.killLanded { landed[kind, default: 0] += 1 }
            if outcome.landedAfterCommit { afterCommit[kind, default: 0] += 1 }
        }
        for sink in EotestScheduleResult.sinks {
            let t = r.sinkTotals(sink)
            lost[sink, default: 0] += t.lost
            duplicated[sink, default: 0] += t.duplicated
        }
        for e in r.epochReports.values {
            missingEpochs += e.missing.count
            repeatedEpochs += e.repeated.count
            outOfOrderEpochs += e.outOfOrder.count
            epochsBeyondCommit += e.beyondCommitted.count
        }
        viewsDiffering += r.viewDifferences.count
        otherProblems += r.problems.count
        committedEpochs += r.committedEpoch
        recoveryMs += r.recoveryMs
    }

    /// The exit rule: no schedule failed, and at least 90% of them passed (the rest inconclusive).
    static func succeeded(passed: Int, failed: Int, inconclusive: Int) -> Bool {
        let total = passed + failed + inconclusive
        guard failed == 0, total > 0 else { return false }
        return Double(passed) >= minimumPassedShare * Double(total)
    }

    var succeeded: Bool { Self.succeeded(passed: passed, failed: failed, inconclusive: inconclusive) }

    /// The `q` quantile (nearest rank) of `values`, or nil when empty.
    static func quantile(_ values: [Int], _ q: Double) -> Int? {
        guard !values.isEmpty else { return nil }
        let s = values.sorted()
        let rank = Int((q * Double(s.count)).rounded(.up))
        return s[min(s.count - 1, max(0, rank - 1))]
    }

    var lines: [String] {
        func q(_ x: Double) -> String { Self.quantile(recoveryMs, x).map { "\($0) ms" } ?? "-" }
        let killsPlanned = planned.values.reduce(0, +), killsLanded = landed.values.reduce(0, +)
        let killsAfter = afterCommit.values.reduce(0, +)
        var out = ["schedules: \(passed) passed, \(failed) failed, \(inconclusive) inconclusive (of \(schedules))"]
        out.append("kills: \(killsPlanned) planned, \(killsLanded) landed, \(killsAfter) after a committed epoch; "
            + Self.kinds.map { "\($0) \(afterCommit[$0, default: 0])/\(landed[$0, default: 0])/\(planned[$0, default: 0])" }
                .joined(separator: ", ") + " (after-commit/landed/planned)")
        for sink in EotestScheduleResult.sinks {
            out.append("\(sink) sink: \(lost[sink, default: 0]) rows lost, \(duplicated[sink, default: 0]) duplicated")
        }
        out.append("file sink epochs: \(missingEpochs) missing, \(repeatedEpochs) repeated, \(outOfOrderEpochs) out of order, "
            + "\(epochsBeyondCommit) beyond the commit; views differing from the reference: \(viewsDiffering); other problems: \(otherProblems)")
        out.append("recovery (process start to first new commit, \(recoveryMs.count) restarts): p50 \(q(0.5)), p99 \(q(0.99)), max \(q(1))")
        out.append("epochs committed by the killed pipelines: \(committedEpochs); wall time \(fmt(wallSeconds, 1)) s")
        if !failedSchedules.isEmpty {
            out.append("failed schedules: \(failedSchedules.prefix(20).map(String.init).joined(separator: ", "))")
        }
        out.append("rule: exit 0 only if no schedule failed and at least \(Int(Self.minimumPassedShare * 100))% passed "
            + "(a schedule is inconclusive when none of its kills landed after a committed epoch): "
            + (succeeded ? "met" : "NOT met"))
        out.append("result: passed=\(passed) failed=\(failed) inconclusive=\(inconclusive) kills=\(killsLanded) "
            + "kills_after_commit=\(killsAfter) sqlite_lost=\(lost["sqlite", default: 0]) sqlite_duplicated=\(duplicated["sqlite", default: 0]) "
            + "file_lost=\(lost["file", default: 0]) file_duplicated=\(duplicated["file", default: 0]) "
            + "epochs_missing=\(missingEpochs) epochs_repeated=\(repeatedEpochs) epochs_out_of_order=\(outOfOrderEpochs) "
            + "recovery_p50_ms=\(Self.quantile(recoveryMs, 0.5) ?? -1) recovery_p99_ms=\(Self.quantile(recoveryMs, 0.99) ?? -1) "
            + "recovery_max_ms=\(Self.quantile(recoveryMs, 1) ?? -1) wall_s=\(fmt(wallSeconds, 1))")
        return out
    }
}
