/// What one schedule of `floe eotest` found: how each run ended and every
/// difference between the killed pipeline's outputs and the reference's.
struct EotestScheduleResult {
    enum Verdict: String {
        case passed = "PASS"
        case failed = "FAIL"
        case inconclusive = "INCONCLUSIVE"
    }

    /// A view whose dump is not byte-equal to the reference's.
    struct ViewDifference {
        var view: String
        /// The first differing line (from 1) and its text in each dump (nil: past the end).
        var line: Int
        var reference: String?
        var actual: String?
        /// Rows of the view missing / extra against the reference (as multisets).
        var rows: EotestCheck.RowDiff
    }

    static let sinks = ["sqlite", "file"]

    let schedule: EotestSchedule
    var runs: [EotestChildRun.Outcome] = []
    /// The killed store's committed epoch at the end.
    var committedEpoch: UInt64 = 0
    var viewDifferences: [ViewDifference] = []
    /// Per sink ("sqlite", "file"), per view: rows lost and duplicated.
    var sinkDiffs: [String: [String: EotestCheck.RowDiff]] = [:]
    /// Per view: the file sink's epoch files against 1...committed.
    var epochReports: [String: EotestCheck.EpochReport] = [:]
    /// Anything else that is wrong: a child that failed or hung, a sink whose
    /// delivered epoch is not the committed one, a view missing from the store.
    var problems: [String] = []
    var wallMs = 0

    var killsLanded: Int { runs.filter(\.killLanded).count }
    var killsAfterCommit: Int { runs.filter(\.landedAfterCommit).count }

    var failed: Bool {
        !viewDifferences.isEmpty || !problems.isEmpty || epochReports.values.contains { !$0.isEmpty }
            || sinkDiffs.values.contains { $0.values.contains { !$0.isEmpty } }
    }

    var verdict: Verdict { Self.verdict(failed: failed, killsAfterCommit: killsAfterCommit) }

    /// A difference fails the schedule; otherwise it passes only when at least one
    /// kill landed after the killed child had committed an epoch (else nothing
    /// committed was ever at stake: inconclusive).
    static func verdict(failed: Bool, killsAfterCommit: Int) -> Verdict {
        if failed { return .failed }
        return killsAfterCommit > 0 ? .passed : .inconclusive
    }

    /// The recovery times: `first-commit-ms` of every restart (every run but the
    /// first) that committed an epoch.
    var recoveryMs: [Int] { runs.dropFirst().compactMap(\.firstCommitMs) }

    /// Rows lost / duplicated in `sink` over every view.
    func sinkTotals(_ sink: String) -> (lost: Int, duplicated: Int) {
        let diffs = sinkDiffs[sink]?.values.map { $0 } ?? []
        return (diffs.reduce(0) { $0 + $1.lost.count }, diffs.reduce(0) { $0 + $1.duplicated.count })
    }

    /// The schedule's line: seed, input, each kill and where it landed, the parallelisms,
    /// the recovery times, the committed epochs and the verdict.
    var line: String {
        let kills = zip(runs, schedule.runs).compactMap { outcome, run -> String? in
            guard let kill = run.kill else { return nil }
            let landing = outcome.landedAfterCommit ? "after-commit" : outcome.killLanded ? "before-commit" : "missed"
            return "\(kill)=\(landing)"
        }
        let recovery = recoveryMs.map(String.init).joined(separator: ",")
        return "#\(schedule.index) seed \(schedule.seed) partitions \(schedule.input.partitions) "
            + "kills [\(kills.joined(separator: ", "))] parallelism \(schedule.runs.map { String($0.parallelism) }.joined(separator: ","))"
            + " recovery-ms [\(recovery)] epochs \(committedEpoch) \(fmt(Double(wallMs) / 1000, 1)) s \(verdict.rawValue)"
    }

    /// What differed, for a failed schedule: the plan, the first differing rows of
    /// each view and sink, the epoch problems, the children that failed, and `replay`.
    func details(directory: String, replay: String) -> [String] {
        var out = ["", "FAILED schedule \(schedule.index) (schedule seed \(schedule.seed))"] + runLines

        for v in viewDifferences {
            out.append("  view \(v.view) differs from the reference at line \(v.line): reference \(v.reference.map { "\"\($0)\"" } ?? "(end)"), "
                + "killed run \(v.actual.map { "\"\($0)\"" } ?? "(end)")")
            out += Self.rowLines("    view", v.rows)
        }
        for sink in Self.sinks {
            for (view, diff) in (sinkDiffs[sink] ?? [:]).sorted(by: { $0.key < $1.key }) where !diff.isEmpty {
                out.append("  \(sink) sink, view \(view): \(diff.lost.count) rows LOST, \(diff.duplicated.count) DUPLICATED")
                out += Self.rowLines("    \(sink)", diff)
            }
        }
        for (view, e) in epochReports.sorted(by: { $0.key < $1.key }) where !e.isEmpty {
            out.append("  file sink, view \(view), epochs against 1...\(committedEpoch): missing \(Self.list(e.missing)), "
                + "repeated \(Self.list(e.repeated)), out of order \(Self.list(e.outOfOrder)), beyond the commit \(Self.list(e.beyondCommitted))")
        }
        for p in problems { out.append("  problem: \(p)") }
        for (i, r) in runs.enumerated() where !(r.finished || r.killLanded) {
            out.append("  stderr of run \(i) (\(r.stderrPath)):")
            out.append(EotestFiles.stderrTail(r.stderrPath))
        }
        out.append("  kept: \(directory)")
        out.append("  replay: \(replay)")
        out.append("  (the replay makes the same choices on the same input; where a timed kill lands is up to the scheduler)")
        return out
    }

    /// The plan and, per run, how it ended, what it committed and its recovery time.
    var runLines: [String] {
        var out = ["  plan: \(schedule.summary)"]
        for (i, r) in runs.enumerated() {
            out.append("  run \(i): \(r.run.kill.map { "\($0)" } ?? "no kill"), \(r.ending) after \(r.elapsedMs) ms, "
                + "committed \(EotestScheduleResult.epochRange(r.committed)), first-commit-ms \(r.firstCommitMs.map(String.init) ?? "-")")
        }
        return out
    }

    private static func rowLines(_ label: String, _ diff: EotestCheck.RowDiff) -> [String] {
        diff.lost.prefix(5).map { "\(label) lost: \($0.joined(separator: ","))" }
            + diff.duplicated.prefix(5).map { "\(label) duplicated: \($0.joined(separator: ","))" }
    }

    static func list(_ epochs: [UInt64]) -> String {
        epochs.isEmpty ? "none" : epochs.prefix(10).map(String.init).joined(separator: ",") + (epochs.count > 10 ? ",..." : "")
    }

    static func epochRange(_ epochs: [UInt64]) -> String {
        guard let first = epochs.first, let last = epochs.last else { return "nothing" }
        return first == last ? "epoch \(first)" : "epochs \(first)...\(last)"
    }
}
