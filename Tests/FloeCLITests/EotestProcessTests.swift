import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import floe

/// `floe eotest` end to end, run as the `floe` executable that `swift test` builds
/// beside the test bundle: two small schedules with two kills each must find no
/// difference from the reference, and a replay of one schedule alone
/// (`--first-schedule 1 --schedules 1`) must make exactly the choices it made in
/// the full run; the same for two Nexmark queries; and sabotaged outputs, of the
/// seeds' views and of a Nexmark query, must fail.
///
/// Skipped only when no `floe` executable is found (a test bundle run without the
/// package's build directory); `swift test` always builds it.
@Suite(.serialized, .enabled(if: FloeBinary.path != nil, "the floe executable is not built"))
struct EotestProcessTests {
    /// Runs `floe` with `arguments` to the end; returns its exit status and stdout lines.
    static func floe(_ arguments: [String]) async throws -> (status: ChildProcess.Termination, lines: [String]) {
        try await offCooperativePool {
            let child = try ChildProcess(executable: FloeBinary.path!, arguments: arguments, environment: [:], outputFiles: nil,
                                         stderrFile: "/dev/null")
            var lines: [String] = []
            while let line = try child.readLine() { lines.append(line) }
            return (child.waitForExit(), lines)
        }
    }

    /// The `name=value` fields of the `result:` line.
    static func result(_ lines: [String]) -> [String: String] {
        var out: [String: String] = [:]
        for field in (lines.last { $0.hasPrefix("result: ") } ?? "").split(separator: " ").dropFirst() {
            let kv = field.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { out[String(kv[0])] = String(kv[1]) }
        }
        return out
    }

    static func temporaryWork() throws -> String {
        var template = Array("/tmp/floe-eotest-test-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else { throw EotestError("mkdtemp failed") }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    @Test(.timeLimit(.minutes(5)))
    func killedPipelinesMatchTheReferenceAndAScheduleReplaysAlone() async throws {
        let work = try Self.temporaryWork()
        defer { EotestFiles.remove(work) }
        let common = ["eotest", "--seed", "11", "--kills", "2", "--events", "2000", "--verbose"]
        let full = try await Self.floe(common + ["--schedules", "2", "--work", work + "/full"])
        let transcript = full.lines.joined(separator: "\n")
        let r = Self.result(full.lines)
        // Exit 0, or 1 only because a schedule was inconclusive (no kill landed after a
        // commit: timing decides that in so small a run); never a failure or a harness error.
        #expect(full.status == .exited(0) || (full.status == .exited(1) && r["inconclusive"] != "0"), "\(transcript)")
        #expect(r["failed"] == "0", "\(transcript)")
        #expect((Int(r["passed"] ?? "") ?? 0) + (Int(r["inconclusive"] ?? "") ?? 0) == 2, "\(transcript)")
        for field in ["sqlite_lost", "sqlite_duplicated", "file_lost", "file_duplicated", "epochs_missing", "epochs_repeated",
                      "epochs_out_of_order"] {
            #expect(r[field] == "0", "\(field): \(transcript)")
        }
        #expect((Int(r["kills"] ?? "") ?? 0) >= 1, "no kill landed: \(transcript)")
        let scheduleLines = full.lines.filter { $0.hasPrefix("#") }
        #expect(scheduleLines.count == 2 && scheduleLines[0].hasPrefix("#0 seed ") && scheduleLines[1].hasPrefix("#1 seed "), "\(transcript)")

        // The replay of schedule 1 alone: the same seed, input and plan.
        let replay = try await Self.floe(common + ["--first-schedule", "1", "--schedules", "1", "--work", work + "/replay"])
        let replayTranscript = replay.lines.joined(separator: "\n")
        func plan(_ lines: [String], _ index: Int) -> [String] {
            guard let at = lines.firstIndex(where: { $0.hasPrefix("#\(index) seed ") }) else { return [] }
            let seed = lines[at].split(separator: " ").prefix(3).joined(separator: " ")
            return [seed] + lines[(at + 1)...].prefix { $0.hasPrefix("  plan: ") }
        }
        #expect(plan(replay.lines, 1).count == 2, "\(replayTranscript)")
        #expect(plan(replay.lines, 1) == plan(full.lines, 1), "full run:\n\(transcript)\nreplay:\n\(replayTranscript)")
        #expect(Self.result(replay.lines)["failed"] == "0", "\(replayTranscript)")
    }

    /// Two Nexmark queries in one pipeline (q5: hop windows, two aggregations and a
    /// join; q9: a join and a top-1 per auction whose ties fall to the bid's hidden
    /// row id) over a generated person/auction/bid log, killed twice per schedule:
    /// no view, sink row or epoch may differ from the reference.
    @Test(.timeLimit(.minutes(5)))
    func killedNexmarkPipelinesMatchTheReference() async throws {
        let work = try Self.temporaryWork()
        defer { EotestFiles.remove(work) }
        let run = try await Self.floe(["eotest", "--seed", "11", "--query", "q5,q9", "--kills", "2", "--events", "4000", "--schedules", "2",
                                       "--verbose", "--work", work])
        let transcript = run.lines.joined(separator: "\n")
        let r = Self.result(run.lines)
        #expect(run.status == .exited(0) || (run.status == .exited(1) && r["inconclusive"] != "0"), "\(transcript)")
        #expect(r["failed"] == "0", "\(transcript)")
        #expect((Int(r["passed"] ?? "") ?? 0) + (Int(r["inconclusive"] ?? "") ?? 0) == 2, "\(transcript)")
        for field in ["sqlite_lost", "sqlite_duplicated", "file_lost", "file_duplicated", "epochs_missing", "epochs_repeated",
                      "epochs_out_of_order"] {
            #expect(r[field] == "0", "\(field): \(transcript)")
        }
        #expect((Int(r["kills"] ?? "") ?? 0) >= 1, "no kill landed: \(transcript)")
        // The reference ran both views over the Nexmark input and holds rows of each.
        let input = run.lines.first { $0.hasPrefix("input 0: query q5,q9, ") } ?? ""
        #expect(input.contains("4000 Nexmark events"), "\(transcript)")
        for view in ["nexmark_q5", "nexmark_q9"] {
            let rows = input.components(separatedBy: "\(view) ").dropFirst().first.flatMap { Int($0.prefix { $0.isNumber }) } ?? 0
            #expect(rows > 0, "\(view): \(transcript)")
        }
    }

    /// The harness's own self-check: with an epoch file deleted, or written again,
    /// after the last run, the schedule must fail, name what it found and print a
    /// replay command for itself.
    @Test(.timeLimit(.minutes(5)), arguments: [("drop-epoch-file", "epochs_missing"), ("rewrite-epoch-file", "epochs_repeated")])
    func sabotagedOutputsFailTheSchedule(sabotage: String, counter: String) async throws {
        let work = try Self.temporaryWork()
        defer { EotestFiles.remove(work) }
        let run = try await Self.floe(["eotest", "--seed", "5", "--schedules", "1", "--kills", "1", "--events", "1000", "--work", work,
                                 "--sabotage", sabotage])
        let transcript = run.lines.joined(separator: "\n")
        let r = Self.result(run.lines)
        #expect(run.status == .exited(1), "\(transcript)")
        #expect(r["failed"] == "1", "\(transcript)")
        #expect((Int(r[counter] ?? "") ?? 0) >= 1, "\(transcript)")
        let replay = run.lines.first { $0.hasPrefix("  replay: ") } ?? ""
        #expect(replay.contains("--seed 5 --first-schedule 0 --schedules 1 --kills 1") && replay.contains("--sabotage \(sabotage)"),
                "\(transcript)")
    }
}

extension EotestProcessTests {
    /// The self-check over a Nexmark query: the epoch file deleted from its view's
    /// file sink must fail the schedule, and the replay must name the query.
    @Test(.timeLimit(.minutes(5)))
    func sabotagedNexmarkOutputsFailTheSchedule() async throws {
        let work = try Self.temporaryWork()
        defer { EotestFiles.remove(work) }
        let run = try await Self.floe(["eotest", "--seed", "5", "--query", "q4", "--schedules", "1", "--kills", "1", "--events", "3000",
                                       "--work", work, "--sabotage", "drop-epoch-file"])
        let transcript = run.lines.joined(separator: "\n")
        let r = Self.result(run.lines)
        #expect(run.status == .exited(1), "\(transcript)")
        #expect(r["failed"] == "1", "\(transcript)")
        #expect((Int(r["epochs_missing"] ?? "") ?? 0) >= 1, "\(transcript)")
        #expect(run.lines.contains { $0.hasPrefix("  file sink, view nexmark_q4, epochs against") }, "\(transcript)")
        let replay = run.lines.first { $0.hasPrefix("  replay: ") } ?? ""
        #expect(replay.contains("--query q4 --events 3000") && replay.contains("--sabotage drop-epoch-file"), "\(transcript)")
    }

    /// `floe log generate --stream person|auction|bid` and `floe log load` fill a
    /// log that `floe pipeline run --query q3,q5` reads as `floe nexmark run` reads
    /// the generator: the views dump byte-equal (neither depends on how the bids are
    /// partitioned), a seeds' view cannot run over the Nexmark topics, and q5 with
    /// a lateness (cleaning closed windows) gives the same view.
    @Test(.timeLimit(.minutes(5)))
    func pipelineRunReadsNexmarkTopicsAsNexmarkRunReadsTheGenerator() async throws {
        let work = try Self.temporaryWork()
        defer { EotestFiles.remove(work) }
        for stream in ["person", "auction", "bid"] {
            let gen = try await Self.floe(["log", "generate", "--stream", stream, "--events", "5000", "--seed", "9", "--out", work + "/\(stream).csv"])
            #expect(gen.status == .exited(0), "\(gen.lines)")
            let load = try await Self.floe(["log", "load", "--log", work + "/log", "--topic", stream, "--partitions", "3", work + "/\(stream).csv"])
            #expect(load.status == .exited(0), "\(load.lines)")
        }
        let run = try await Self.floe(["pipeline", "run", "--log", work + "/log", "--path", work + "/store", "--query", "q3,nexmark_q5",
                                       "--parallelism", "2", "--barrier-interval-ms", "20", "--until-end"])
        #expect(run.status == .exited(0), "\(run.lines)")
        for (query, view) in [("q3", "nexmark_q3"), ("q5", "nexmark_q5")] {
            let direct = try await Self.floe(["nexmark", "run", "--query", query, "--events", "5000", "--seed", "9",
                                              "--path", work + "/direct-\(query)"])
            #expect(direct.status == .exited(0), "\(direct.lines)")
            let expected = try await Self.floe(["view", "dump", "--path", work + "/direct-\(query)", view])
            let actual = try await Self.floe(["view", "dump", "--path", work + "/store", view])
            #expect(expected.lines.count > 1, "\(view) is empty: \(expected.lines)")
            #expect(actual.lines == expected.lines, "\(view)")
        }
        let eo = try await Self.floe(["pipeline", "run", "--log", work + "/log", "--path", work + "/eo", "--query", "eo_order_revenue", "--until-end"])
        #expect(eo.status != .exited(0))
        // With a lateness q5 cleans closed windows and drops late rows: the topics' partitions are in event-time
        // order (the CSV is, and loading keeps each partition's order), so none is late and the view is the same.
        let late = try await Self.floe(["pipeline", "run", "--log", work + "/log", "--path", work + "/late", "--query", "q5",
                                        "--lateness-ms", "10", "--parallelism", "2", "--barrier-interval-ms", "20", "--until-end"])
        #expect(late.status == .exited(0), "\(late.lines)")
        #expect(late.lines.contains { $0.hasPrefix("late rows dropped:") && $0.contains("bid 0") }, "\(late.lines)")
        let cleaned = try await Self.floe(["view", "dump", "--path", work + "/late", "nexmark_q5"])
        let exact = try await Self.floe(["view", "dump", "--path", work + "/store", "nexmark_q5"])
        #expect(cleaned.lines == exact.lines, "q5 with --lateness-ms")
    }
}

/// The `floe` executable: beside the test executable (the build directory of this
/// configuration) or above it, else in the package's debug build directory; nil
/// when none is built.
enum FloeBinary {
    static let path: String? = {
        var candidates: [String] = []
        var dir = ChildProcess.currentExecutable()
        for _ in 0..<4 {
            guard let slash = dir.lastIndex(of: "/") else { break }
            dir = String(dir[..<slash])
            candidates.append(dir + "/floe")
        }
        let file = #filePath
        if let tests = file.range(of: "/Tests/") { candidates.append(String(file[..<tests.lowerBound]) + "/.build/debug/floe") }
        return candidates.first { access($0, X_OK) == 0 }
    }()
}
