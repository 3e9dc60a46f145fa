import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Floe
import FloeDataflow
@testable import floe

/// The pure logic of `floe eotest`: schedules derived from the seed alone (so a
/// printed replay command reruns the same schedule), the comparisons fed
/// hand-made sink contents and epoch listings with each kind of damage, and the
/// inconclusive and exit rules. A comparison that missed a lost row, a
/// duplicate or an epoch gap would let the harness pass a pipeline that is not
/// exactly-once.
@Suite struct EotestTests {
    // MARK: schedules

    static func schedule(_ base: UInt64, _ index: Int, kills: Int = 5) -> EotestSchedule {
        EotestSchedule(base: base, index: index, kills: kills, events: 1000, schedulesPerInput: 10)
    }

    @Test func aScheduleIsAFunctionOfTheSeedAndIndexAlone() {
        for i in [0, 1, 7, 10, 123] {
            #expect(Self.schedule(42, i) == Self.schedule(42, i))
            #expect(Self.schedule(42, i).seed == EotestSchedule.seed(base: 42, index: i))
        }
        // A replay of one schedule (--first-schedule I --schedules 1) builds it from
        // the same (seed, index): nothing carries over from the schedules before it.
        let replayed = EotestSchedule(base: 42, index: 13, kills: 5, events: 1000, schedulesPerInput: 10)
        #expect(replayed == Self.schedule(42, 13))
    }

    @Test func schedulesDifferAcrossIndexesAndSeeds() {
        let seeds = Set((0..<200).map { EotestSchedule.seed(base: 1, index: $0) })
        #expect(seeds.count == 200)
        #expect(EotestSchedule.seed(base: 1, index: 0) != EotestSchedule.seed(base: 2, index: 0))
        let plans = Set((0..<50).map { Self.schedule(1, $0).summary })
        #expect(plans.count == 50)
    }

    @Test func schedulesOfOneGroupShareTheirInput() {
        let group0 = (0..<10).map { Self.schedule(9, $0).input }
        #expect(Set(group0).count == 1)
        #expect(group0[0].group == 0)
        #expect(Self.schedule(9, 10).input.group == 1)
        #expect(Self.schedule(9, 10).input != group0[0])
        #expect(Self.schedule(9, 10).input == EotestSchedule.input(base: 9, group: 1, events: 1000))
    }

    @Test func everyChoiceIsWithinItsBoundsAndEveryRestartChangesTheParallelism() {
        for i in 0..<300 {
            let s = Self.schedule(5, i, kills: 4)
            #expect(s.runs.count == 5)
            #expect(s.kills.count == 4)
            #expect(s.runs.last?.kill == nil)
            #expect(EotestSchedule.partitionCounts.contains(s.input.partitions))
            #expect(EotestSchedule.segmentCounts.contains(s.input.segments))
            for (a, b) in zip(s.runs, s.runs.dropFirst()) { #expect(a.parallelism != b.parallelism, "schedule \(i)") }
            for r in s.runs {
                #expect(EotestSchedule.parallelisms.contains(r.parallelism))
                #expect(EotestSchedule.barrierIntervalsMs.contains(r.barrierIntervalMs))
                #expect(EotestSchedule.chunkRowChoices.contains(r.chunkRows))
                #expect(EotestSchedule.channelCapacities.contains(r.channelCapacity))
                switch r.kill {
                case let .timed(c, d)?:
                    #expect(EotestSchedule.timedAfterCommits.contains(c))
                    #expect((c == 0 ? EotestSchedule.timedDelaysFromStartMs : EotestSchedule.timedDelaysAfterCommitMs).contains(d))
                case let .failpoint(p, skip)?:
                    let bound = EotestSchedule.failpoints.first { $0.point == p }?.skipBound
                    #expect(bound != nil && skip >= 0 && skip < bound!)
                case let .recoveryStart(d)?: #expect(EotestSchedule.recoveryStartDelaysMs.contains(d))
                case let .afterFirstCommit(d)?: #expect(EotestSchedule.afterFirstCommitDelaysMs.contains(d))
                case nil: break
                }
            }
            // At least one kill waits for a commit, so the schedule can be conclusive.
            #expect(s.kills.contains { $0.waitsForCommit }, "schedule \(i): \(s.summary)")
        }
    }

    @Test func everyKillKindIsDrawn() {
        var kinds: Set<String> = [], labels: Set<String> = []
        for i in 0..<100 {
            for k in Self.schedule(3, i).kills {
                kinds.insert(k.kind)
                labels.insert(String("\(k)".prefix(while: { $0 != "@" && $0 != ":" && $0 != "+" })))
            }
        }
        #expect(kinds == ["timed", "failpoint", "recovery"])
        #expect(labels.isSuperset(of: ["timed", "fp", "recovery"]))
    }

    @Test func aFailpointKillArmsACrashAtItsHit() throws {
        let k = EotestSchedule.Kill.failpoint(.commitAfterManifest, skip: 3)
        #expect(k.failpointEnvironment == "commit.after_manifest=crash@3")
        #expect(try Failpoints.parse(k.failpointEnvironment!) == [.commitAfterManifest: FailpointAction(.crash, skip: 3)])
        #expect(EotestSchedule.Kill.timed(afterCommits: 0, delayMs: 10).failpointEnvironment == nil)
    }

    // MARK: queries

    @Test func queryNamesResolveToTheSetsTheInputsRotateThrough() throws {
        #expect(try EotestQuerySet.rotation("all") == [.eo, .nexmark])
        #expect(try EotestQuerySet.rotation("eo") == [.eo])
        #expect(try EotestQuerySet.rotation("nexmark") == [.nexmark])
        #expect(EotestQuerySet.nexmark.views == ["nexmark_q3", "nexmark_q4", "nexmark_q5", "nexmark_q7", "nexmark_q8", "nexmark_q9"])
        #expect(try EotestQuerySet.rotation("q5") == [EotestQuerySet(family: .nexmark, views: [NexmarkQueries.q5])])
        #expect(try EotestQuerySet.rotation("nexmark_q5") == EotestQuerySet.rotation("q5"))
        #expect(try EotestQuerySet.rotation(EoViews.paymentMatch) == [EotestQuerySet(family: .eo, views: [EoViews.paymentMatch])])
        // A mixed list: one pipeline per family, rotating.
        #expect(try EotestQuerySet.rotation("q9,eo_order_revenue,q3") == [EotestQuerySet(family: .eo, views: [EoViews.revenue]),
                                                                           EotestQuerySet(family: .nexmark, views: [NexmarkQueries.q9, NexmarkQueries.q3])])
        for bad in ["q0", "q1", "q2", "nexmark_q0", "q6", "bogus", "", "all,q3", "q3,nexmark", "eo,q5", "q3,,q5"] {
            #expect(throws: EotestError.self, "\(bad)") { try EotestQuerySet.rotation(bad) }
        }
    }

    @Test func aQuerySetNamesItsPipelineQueryAndDefaultEvents() throws {
        #expect(EotestQuerySet.eo.pipelineQuery == "all")
        #expect(EotestQuerySet.nexmark.pipelineQuery == "q3,q4,q5,q7,q8,q9")
        #expect(try PipelineQuery.parse(EotestQuerySet.nexmark.pipelineQuery).nexmarkViews == EotestQuerySet.nexmark.views)
        #expect(try PipelineQuery.parse(EotestQuerySet.eo.pipelineQuery).eoViews == EoViews.all)
        let windows = try EotestQuerySet.rotation(EoViews.windows)[0]
        #expect(windows.pipelineQuery == EoViews.windows && windows.defaultEvents == 400_000)
        #expect(EotestQuerySet.eo.defaultEvents == 40_000)
        #expect(EotestQuerySet.nexmark.defaultEvents == EotestQuerySet.defaultNexmarkEvents)
    }

    @Test func pipelineQueriesListViewsOfBothFamilies() throws {
        #expect(try PipelineQuery.parse("all") == PipelineQuery(eoViews: EoViews.all, nexmarkViews: []))
        #expect(try PipelineQuery.parse(EoViews.windows) == PipelineQuery(eoViews: [EoViews.windows], nexmarkViews: []))
        #expect(try PipelineQuery.parse("nexmark").nexmarkViews == NexmarkQueries.all)
        let mixed = try PipelineQuery.parse("q5,eo_payment_match,nexmark_q5,q3,all")
        #expect(mixed.eoViews == [EoViews.paymentMatch, EoViews.revenue, EoViews.windows])
        #expect(mixed.nexmarkViews == [NexmarkQueries.q5, NexmarkQueries.q3])
        #expect(mixed.views.count == 5)
        for bad in ["", "q6", "orders", "q3,", "nexmark_all"] {
            #expect(throws: DataflowError.self, "\(bad)") { try PipelineQuery.parse(bad) }
        }
    }

    @Test func inputGroupsRotateThroughTheQuerySetsWithTheirOwnEvents() {
        let queries: [EotestQuerySet] = [.eo, .nexmark]
        for i in 0..<60 {
            let s = EotestSchedule(base: 4, index: i, kills: 3, events: nil, schedulesPerInput: 5, queries: queries)
            let group = i / 5
            #expect(s.input.group == group)
            #expect(s.input.query == queries[group % 2])
            #expect(s.input.events == (group % 2 == 0 ? 40_000 : EotestQuerySet.defaultNexmarkEvents))
            // The rest of the plan does not depend on the query: the same as an eo-only run's.
            let eoOnly = EotestSchedule(base: 4, index: i, kills: 3, events: nil, schedulesPerInput: 5)
            #expect(s.runs == eoOnly.runs && s.seed == eoOnly.seed && s.input.seed == eoOnly.input.seed)
            #expect(s.input.partitions == eoOnly.input.partitions && s.input.segments == eoOnly.input.segments)
        }
        // --events applies to every set.
        #expect(EotestSchedule(base: 4, index: 5, kills: 1, events: 777, schedulesPerInput: 5, queries: queries).input.events == 777)
    }

    @Test func theReplayCommandRepeatsTheQueryAndOnlyAGivenEventCount() {
        var config = EotestConfig(seed: 3, firstSchedule: 0, schedules: 10, kills: 2, query: "all", queries: [.eo, .nexmark], events: nil,
                                  schedulesPerInput: 4, work: "/tmp/x", createdWork: false, keep: false, executable: "floe")
        let replay = config.replayCommand(schedule: 6)
        #expect(replay == "floe eotest --seed 3 --first-schedule 6 --schedules 1 --kills 2 --query all --schedules-per-input 4 --keep")
        // Schedule 6 alone (the replay's config) makes the same plan on the same input.
        var alone = config
        (alone.firstSchedule, alone.schedules) = (6, 1)
        #expect(alone.schedule(6) == config.schedule(6))
        #expect(config.schedule(6).input.query == .nexmark)
        config.events = 500
        #expect(config.replayCommand(schedule: 6).contains("--query all --events 500 --schedules-per-input 4"))
    }

    // MARK: rows

    @Test func rowDiffCountsLostAndDuplicatedCopies() {
        let a = ["1", "x"], b = ["2", "y"], c = ["3", "z"], d = ["4", "w"]
        let diff = EotestCheck.rows(reference: [a, b, b, c], actual: [c, d, a, c, b])
        #expect(diff.lost == [b])
        #expect(diff.duplicated == [c, d])
        #expect(!diff.isEmpty)
    }

    @Test func rowDiffIgnoresOrderAndFindsNothingInEqualMultisets() {
        let rows = [["a", "1"], ["b", "2"], ["a", "1"]]
        #expect(EotestCheck.rows(reference: rows, actual: rows.reversed()).isEmpty)
        #expect(EotestCheck.rows(reference: [], actual: []).isEmpty)
    }

    @Test func aChangedValueIsOneLostAndOneDuplicatedRow() {
        let diff = EotestCheck.rows(reference: [["Books", "10"]], actual: [["Books", "11"]])
        #expect(diff.lost == [["Books", "10"]])
        #expect(diff.duplicated == [["Books", "11"]])
    }

    @Test func anEmptySinkLosesEveryRow() {
        let diff = EotestCheck.rows(reference: [["a"], ["a"], ["b"]], actual: [])
        #expect(diff.lost.count == 3)
        #expect(diff.duplicated.isEmpty)
    }

    // MARK: epochs

    static func files(_ epochs: [UInt64], identity: (UInt64) -> UInt64 = { $0 + 100 }, time: (UInt64) -> Int64 = { Int64($0) * 10 })
        -> [EotestCheck.EpochFile] {
        epochs.map { .init(epoch: $0, identity: identity($0), modifiedNanos: time($0)) }
    }

    @Test func epochsOneThroughCommittedInOrderAreClean() {
        #expect(EotestCheck.epochs(Self.files([1, 2, 3, 4]), committed: 4).isEmpty)
        #expect(EotestCheck.epochs([], committed: 0).isEmpty)
        // Files written in the same clock tick are in order.
        #expect(EotestCheck.epochs(Self.files([1, 2, 3], time: { _ in 5 }), committed: 3).isEmpty)
    }

    @Test func gapsAndEpochsBeyondTheCommitAreFound() {
        let r = EotestCheck.epochs(Self.files([1, 2, 4, 6, 7]), committed: 5)
        #expect(r.missing == [3, 5])
        #expect(r.beyondCommitted == [6, 7])
        #expect(r.repeated.isEmpty && r.outOfOrder.isEmpty)
        #expect(EotestCheck.epochs([], committed: 3).missing == [1, 2, 3])
    }

    @Test func aFileWrittenAgainByALaterRunIsARepeat() {
        let before = Self.files([1, 2, 3])
        let after = Self.files([1, 2, 3, 4], identity: { $0 == 2 ? 999 : $0 + 100 })
        let r = EotestCheck.epochs(after, earlier: [Self.files([1]), before], committed: 4)
        #expect(r.repeated == [2])
        #expect(r.missing.isEmpty)
        // A file that later disappeared shows up as missing, not as a repeat.
        let gone = EotestCheck.epochs(Self.files([1, 3]), earlier: [before], committed: 3)
        #expect(gone.missing == [2])
        #expect(gone.repeated.isEmpty)
        // An epoch listed twice is a repeat too.
        #expect(EotestCheck.epochs(Self.files([1, 2, 2]), committed: 2).repeated == [2])
    }

    @Test func aFileOlderThanItsPredecessorIsOutOfOrder() {
        let r = EotestCheck.epochs(Self.files([1, 2, 3, 4], time: { $0 == 3 ? 5 : Int64($0) * 10 }), committed: 4)
        #expect(r.outOfOrder == [3])
        #expect(r.missing.isEmpty)
    }

    @Test func epochFileNamesParseAsTheFileSinkWritesThem() {
        #expect(EotestOutputs.epoch(fileName: FileSink.fileName(epoch: 17)) == 17)
        #expect(EotestOutputs.epoch(fileName: "00000000000000000017.csv.tmp") == nil)
        #expect(EotestOutputs.epoch(fileName: "schema.csv") == nil)
        #expect(EotestOutputs.epoch(fileName: "0000000000000000017.csv") == nil)
    }

    // MARK: dumps

    @Test func firstDifferenceNamesTheLineAndBothTexts() {
        #expect(EotestCheck.firstDifference(reference: "h\na\nb\n", actual: "h\na\nb\n") == nil)
        let d = EotestCheck.firstDifference(reference: "h\na\nb\n", actual: "h\na\nc\n")
        #expect(d?.line == 3 && d?.reference == "b" && d?.actual == "c")
        let shorter = EotestCheck.firstDifference(reference: "h\na\nb\n", actual: "h\na\n")
        #expect(shorter?.line == 3 && shorter?.reference == "b" && shorter?.actual == "")
        #expect(EotestRunner.dumpRows("h,x\n1,a\n2,b\n") == [["1,a"], ["2,b"]])
    }

    // MARK: verdicts

    @Test func theInconclusiveRule() {
        #expect(EotestScheduleResult.verdict(failed: false, killsAfterCommit: 1) == .passed)
        #expect(EotestScheduleResult.verdict(failed: false, killsAfterCommit: 0) == .inconclusive)
        #expect(EotestScheduleResult.verdict(failed: true, killsAfterCommit: 0) == .failed)
        #expect(EotestScheduleResult.verdict(failed: true, killsAfterCommit: 3) == .failed)
    }

    static func outcome(_ kill: EotestSchedule.Kill?, killed: Bool, committed: [UInt64], firstCommitMs: Int? = nil) -> EotestChildRun.Outcome {
        let run = EotestSchedule.Run(parallelism: 1, barrierIntervalMs: 10, chunkRows: 64, channelCapacity: 1, kill: kill)
        var o = EotestChildRun.Outcome(run: run, termination: killed ? .signalled(SIGKILL) : .exited(0), stderrPath: "/dev/null")
        o.killedByHarness = killed
        o.committed = committed
        o.firstCommitMs = firstCommitMs
        return o
    }

    @Test func aScheduleIsConclusiveOnlyWhenAKillLandsAfterACommit() {
        var r = EotestScheduleResult(schedule: Self.schedule(1, 0, kills: 2))
        let kill = EotestSchedule.Kill.timed(afterCommits: 0, delayMs: 50)
        // Killed before any commit, then a kill that missed (the run finished first).
        r.runs = [Self.outcome(kill, killed: true, committed: []), Self.outcome(kill, killed: false, committed: [1], firstCommitMs: 30),
                  Self.outcome(nil, killed: false, committed: [2], firstCommitMs: 20)]
        #expect(r.killsLanded == 1 && r.killsAfterCommit == 0)
        #expect(r.verdict == .inconclusive)
        #expect(r.recoveryMs == [30, 20])
        r.runs[1] = Self.outcome(kill, killed: true, committed: [1, 2], firstCommitMs: 30)
        #expect(r.verdict == .passed)
        r.sinkDiffs["file"] = ["v": EotestCheck.RowDiff(lost: [["x"]], duplicated: [])]
        #expect(r.verdict == .failed)
        #expect(r.sinkTotals("file") == (1, 0))
        #expect(r.sinkTotals("sqlite") == (0, 0))
    }

    @Test func anyEpochOrViewProblemFailsTheSchedule() {
        var r = EotestScheduleResult(schedule: Self.schedule(1, 0, kills: 1))
        r.runs = [Self.outcome(.afterFirstCommit(delayMs: 0), killed: true, committed: [1]), Self.outcome(nil, killed: false, committed: [2])]
        #expect(r.verdict == .passed)
        var e = r
        e.epochReports["v"] = EotestCheck.EpochReport(missing: [2])
        #expect(e.verdict == .failed)
        var v = r
        v.viewDifferences = [.init(view: "v", line: 2, reference: "a", actual: "b", rows: .init())]
        #expect(v.verdict == .failed)
        var p = r
        p.problems = ["the last run exited with status 1"]
        #expect(p.verdict == .failed)
    }

    @Test func theExitRuleNeedsNoFailureAndNinetyPercentPassed() {
        #expect(EotestReport.succeeded(passed: 10, failed: 0, inconclusive: 0))
        #expect(EotestReport.succeeded(passed: 9, failed: 0, inconclusive: 1))
        #expect(EotestReport.succeeded(passed: 180, failed: 0, inconclusive: 20))
        #expect(!EotestReport.succeeded(passed: 179, failed: 0, inconclusive: 21))
        #expect(!EotestReport.succeeded(passed: 8, failed: 0, inconclusive: 2))
        #expect(!EotestReport.succeeded(passed: 199, failed: 1, inconclusive: 0))
        #expect(!EotestReport.succeeded(passed: 0, failed: 0, inconclusive: 0))
    }

    @Test func reportTotalsAddUpOverSchedules() {
        var report = EotestReport()
        var r = EotestScheduleResult(schedule: Self.schedule(1, 0, kills: 1))
        let kill = r.schedule.runs[0].kill
        r.runs = [Self.outcome(kill, killed: true, committed: [1]), Self.outcome(nil, killed: false, committed: [2, 3], firstCommitMs: 40)]
        r.committedEpoch = 3
        r.sinkDiffs = ["sqlite": ["v": .init(lost: [], duplicated: [["a"], ["b"]])]]
        r.epochReports = ["v": .init(missing: [2], beyondCommitted: [], repeated: [1], outOfOrder: [3])]
        report.add(r)
        #expect(report.failed == 1 && report.passed == 0)
        #expect(report.duplicated["sqlite"] == 2 && report.lost["sqlite"] == 0)
        #expect(report.missingEpochs == 1 && report.repeatedEpochs == 1 && report.outOfOrderEpochs == 1)
        #expect(report.recoveryMs == [40])
        #expect(report.landed[kill!.kind] == 1 && report.afterCommit[kill!.kind] == 1)
        #expect(!report.succeeded)
        #expect(report.lines.last?.hasPrefix("result: passed=0 failed=1") == true)
    }

    @Test func quantilesAreNearestRank() {
        #expect(EotestReport.quantile([], 0.5) == nil)
        #expect(EotestReport.quantile([7], 0.99) == 7)
        #expect(EotestReport.quantile(Array(1...100), 0.5) == 50)
        #expect(EotestReport.quantile(Array(1...100), 0.99) == 99)
        #expect(EotestReport.quantile([5, 1, 3], 1) == 5)
    }

    // MARK: inputs and children

    @Test func csvSplitsIntoPiecesThatKeepTheHeaderAndEveryRow() {
        let text = Array("id,v\n1,a\n2,b\n3,c\n4,d\n5,e\n".utf8)
        let pieces = EotestReference.splitCsv(text, pieces: 3).map { String(decoding: $0, as: UTF8.self) }
        #expect(pieces == ["id,v\n1,a\n2,b\n", "id,v\n3,c\n4,d\n", "id,v\n5,e\n"])
        #expect(EotestReference.splitCsv(text, pieces: 1) == [text])
    }

    @Test func childOutputIsReadLineByLineWithoutBlocking() throws {
        let child = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "echo committed 1; echo first-commit-ms 7; printf tail"],
                                     environment: [:], outputFiles: nil)
        var lines: [String] = [], ended = false
        while !ended {
            let r = try child.availableLines(waitMillis: 100)
            lines += r.lines
            ended = r.ended
        }
        #expect(lines == ["committed 1", "first-commit-ms 7", "tail"])
        #expect(child.waitForExit() == .exited(0))
    }
}
