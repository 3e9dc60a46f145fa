import Foundation
import Testing
@testable import Floe

/// `floe crashtest` end to end, run as the `floe` executable (which `swift test`
/// builds with the test bundle, into the same directory): timed SIGKILLs of a
/// writer that loses no acknowledged epoch and never shows part of one, every
/// failpoint fired as a crash and as an error, the harness catching deliberate
/// breaches of its oracle protocol (so the checks above are not vacuous), exact
/// replays, and clear errors for bad input.
@Suite(.serialized) struct CrashtestProcessTests {
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
        /// Fields of the final `result:` line.
        var result: [String: String]
        /// Lines of the iterations (`#<n> ...`).
        var iterations: [String] { stdout.split(separator: "\n").map(String.init).filter { $0.hasPrefix("#") } }
        var transcript: String { "exit \(status)\n\(stdout)\(stderr)" }
        /// The arguments of the printed replay command (after the executable), if a violation printed one.
        var replayArguments: [String]? {
            stdout.split(separator: "\n").first { $0.hasPrefix("  replay: ") }
                .map { $0.dropFirst("  replay: ".count).split(separator: " ").dropFirst().map(String.init) }
        }
    }

    /// The `floe` executable: beside the test executable (the build directory of
    /// this configuration), else in the package's debug build directory.
    static func floeExecutable() throws -> String {
        var candidates: [String] = []
        if var dir = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? Bundle.main.executablePath {
            for _ in 0..<4 {
                dir = (dir as NSString).deletingLastPathComponent
                candidates.append(dir + "/floe")
            }
        }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(package.path + "/.build/debug/floe")
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw FloeError.objectNotFound("the floe executable (looked at \(candidates.joined(separator: ", "))); "
                + "`swift test` builds it, or run `swift build --product floe`")
        }
        return found
    }

    /// Runs `floe` with `arguments` to completion, stdout and stderr captured in files.
    static func floe(_ arguments: [String], in dir: ObjectStoreTempDirectory) throws -> Outcome {
        let out = dir.path + ".stdout", err = dir.path + ".stderr"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: out)
            try? FileManager.default.removeItem(atPath: err)
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try floeExecutable())
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env[Failpoints.environmentVariable] = nil
        p.environment = env
        p.standardOutput = FileHandle(forWritingAtPath: out)
        p.standardError = FileHandle(forWritingAtPath: err)
        try p.run()
        p.waitUntilExit()
        let stdout = String(decoding: readWholeFile(out) ?? [], as: UTF8.self)
        let stderr = String(decoding: readWholeFile(err) ?? [], as: UTF8.self)
        var result: [String: String] = [:]
        if let line = stdout.split(separator: "\n").last(where: { $0.hasPrefix("result: ") }) {
            for field in line.split(separator: " ").dropFirst() {
                let kv = field.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { result[String(kv[0])] = String(kv[1]) }
            }
        }
        return Outcome(status: p.terminationStatus, stdout: stdout, stderr: stderr, result: result)
    }

    /// The fields `name value` of an iteration line, e.g. `R 12`, `ops 340`.
    static func field(_ line: String, _ name: String) -> String? {
        let parts = line.split(separator: " ")
        guard let i = parts.firstIndex(where: { $0 == name }), i + 1 < parts.count else { return nil }
        return String(parts[i + 1])
    }

    // MARK: kills and failpoints

    @Test func fiftyKillsLoseNoAcknowledgedEpochAndShowNoPartialOne() throws {
        let seed: UInt64 = 20_261_123
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        let r = try Self.floe(["crashtest", "--path", dir.path, "--iterations", "50", "--seed", "\(seed)", "--keys", "200",
                               "--min-run-ms", "80", "--max-run-ms", "300"], in: dir)
        let context = Comment(rawValue: "seed \(seed)\n\(r.transcript)")
        #expect(r.status == 0, context)
        #expect(r.result["status"] == "PASSED", context)
        #expect(r.result["iterations"] == "50", context)
        #expect(r.result["lost_committed_epochs"] == "0", context)
        #expect(r.result["partially_visible_epochs"] == "0", context)
        #expect(r.result["verification_failures"] == "0", context)
        // Every worker was SIGKILLed at its time, and between the kills the workers
        // committed and compacted: the checks ran against a store that moved.
        #expect(r.iterations.count == 50, context)
        #expect(r.iterations.allSatisfy { $0.contains(" killed ") }, context)
        // How much a worker commits before its kill depends on the machine's load
        // (a loaded 2-core machine: 28 in 50 kills), so only progress is required.
        #expect((Int(r.result["acked_epochs"] ?? "") ?? 0) >= 5, context)
        #expect((Int(r.result["compactions"] ?? "") ?? 0) > 0, context)
        // Each check read the whole universe with get.
        #expect(r.iterations.allSatisfy { Self.field($0, "keys") == "200" }, context)
    }

    @Test func sweepFiresEveryFailpointAsACrashAndAsAnError() throws {
        let seed: UInt64 = 77
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        let r = try Self.floe(["crashtest", "--path", dir.path, "--failpoints", "--iterations", "24", "--seed", "\(seed)",
                               "--keys", "200", "--failpoint-timeout", "60"], in: dir)
        let context = Comment(rawValue: "seed \(seed)\n\(r.transcript)")
        #expect(r.status == 0, context)
        #expect(r.result["status"] == "PASSED", context)
        #expect(r.result["iterations"] == "\(Failpoint.allCases.count * 2)", context)
        #expect(r.result["unfired_failpoints"] == "0", context)
        #expect(r.result["lost_committed_epochs"] == "0", context)
        #expect(r.result["partially_visible_epochs"] == "0", context)
        #expect(r.result["verification_failures"] == "0", context)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        for point in Failpoint.allCases {
            let row = lines.first { $0.hasPrefix("  \(point.rawValue) ") }
            #expect(row?.split(separator: " ").dropFirst() == ["1/1", "1/1"], "\(point.rawValue) row: \(row ?? "missing")\n\(context.rawValue)")
            // The crash kind ended its worker at the point; the error kind was handled and the worker stopped itself.
            #expect(r.iterations.contains { $0.contains("\(point.rawValue)=crash") && $0.contains("failpoint-crash") && $0.hasSuffix("fired") },
                    "\(point.rawValue) crash\n\(context.rawValue)")
            #expect(r.iterations.contains { $0.contains("\(point.rawValue)=2*error") && $0.contains("stopped") && $0.hasSuffix("fired") },
                    "\(point.rawValue) error\n\(context.rawValue)")
        }
    }

    // MARK: the harness catches what it must

    @Test(arguments: [
        ("lost-ack", "lost_committed_epochs"), ("unlogged-write", "verification_failures"),
        ("early-write", "partially_visible_epochs"), ("missing-write", "partially_visible_epochs"),
        ("below-verified", "lost_committed_epochs"),
    ])
    func brokenOracleProtocolIsReportedWithAReplayThatReproducesIt(sabotage: String, counter: String) throws {
        let seed: UInt64 = 5
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        let r = try Self.floe(["crashtest", "--path", dir.path, "--iterations", "3", "--seed", "\(seed)", "--keys", "100",
                               "--sabotage", sabotage], in: dir)
        let context = Comment(rawValue: "seed \(seed), sabotage \(sabotage)\n\(r.transcript)")
        #expect(r.status == 1, context)
        #expect(r.result["status"] == "FAILED", context)
        #expect(r.result[counter] == "1", context)
        #expect(r.result["iterations"] == "1", "the run stops at the first violation\n\(context.rawValue)")
        #expect(r.stdout.contains("VIOLATION in iteration 0 (seed \(seed))"), context)
        // The report names the key or epoch that differed.
        let detail = r.stdout.split(separator: "\n").first { $0.hasPrefix("  lost committed epochs:") || $0.hasPrefix("  wrong:")
            || $0.hasPrefix("  partially visible:") }
        #expect(detail != nil, context)
        if sabotage == "below-verified" {
            // Nothing was acknowledged in the iteration: what is lost is the verified base.
            #expect(r.result["acked_epochs"] == "0", context)
            #expect(detail?.contains("were verified before this iteration (base 1)") == true, context)
            #expect(r.stdout.contains("recovered epoch 0 is below the verified epoch 1"), context)
        }
        if sabotage == "early-write" || sabotage == "missing-write" {
            #expect(detail?.contains(sabotage == "early-write" ? "shows the write of epoch 2 > R" : "misses the write of epoch 1 <= R") == true, context)
        }

        // The printed replay command, run as printed, finds the same violation from the saved state.
        let words = try #require(r.replayArguments, context)
        #expect(words.contains("--iteration") && words.contains("--sabotage"), context)
        let again = try Self.floe(words, in: dir)
        let againContext = Comment(rawValue: "replay of seed \(seed), sabotage \(sabotage)\n\(again.transcript)")
        #expect(again.stdout.contains("replaying from the state saved before iteration 0"), againContext)
        #expect(again.status == 1 && again.result["status"] == "FAILED", againContext)
        for name in ["lost_committed_epochs", "partially_visible_epochs", "verification_failures", "acked_epochs"] {
            #expect(again.result[name] == r.result[name], "\(name)\n\(againContext.rawValue)")
        }
        #expect(again.iterations.count == 1 && Self.field(again.iterations[0], "R") == Self.field(r.iterations[0], "R"), againContext)
    }

    @Test func tornOracleTailIsIgnored() throws {
        let seed: UInt64 = 6
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        let r = try Self.floe(["crashtest", "--path", dir.path, "--iterations", "2", "--seed", "\(seed)", "--keys", "100",
                               "--sabotage", "torn-tail"], in: dir)
        let context = Comment(rawValue: "seed \(seed)\n\(r.transcript)")
        #expect(r.status == 0 && r.result["status"] == "PASSED", context)
        #expect(r.iterations.count == 2 && r.iterations.allSatisfy { $0.contains("torn ") }, context)
        #expect(r.stdout.contains("torn oracle tails ignored 2"), context)
        #expect(r.result["acked_epochs"] == "2", context)
    }

    @Test func killAfterOpsReplaysAnIterationExactly() throws {
        let seed: UInt64 = 11
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        let args = ["crashtest", "--path", dir.path, "--seed", "\(seed)", "--keys", "150", "--kill-after-ops", "120"]
        let r = try Self.floe(args + ["--iterations", "2"], in: dir)
        let context = Comment(rawValue: "seed \(seed)\n\(r.transcript)")
        #expect(r.status == 0 && r.iterations.count == 2, context)
        let original = try #require(r.iterations.last, context)
        #expect(Self.field(original, "ops") == "120" && original.contains(" stopped "), context)
        // Iteration 1 again, from the state saved before it: the same data decisions.
        let again = try Self.floe(args + ["--iteration", "1", "--iterations", "1"], in: dir)
        let againContext = Comment(rawValue: "replay, seed \(seed)\n\(again.transcript)")
        #expect(again.status == 0 && again.iterations.count == 1, againContext)
        #expect(again.iterations.first?.hasPrefix("#1 ") == true, againContext)
        for name in ["R", "acked", "attempted", "rows", "alt", "ops"] {
            #expect(Self.field(again.iterations.first ?? "", name) == Self.field(original, name), "\(name)\n\(againContext.rawValue)")
        }
    }

    // MARK: bad input

    @Test func badInputIsAClearErrorNotACrash() throws {
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        let file = dir.path + "/plain-file"
        _ = FileManager.default.createFile(atPath: file, contents: Data([1]))
        let cases: [([String], String)] = [
            (["--path", dir.path + "/no/such/parent"], "its parent directory \(dir.path)/no/such does not exist"),
            (["--path", file], "--path \(file) is not a directory"),
            (["--path", dir.path], "is not empty and is not a floe crashtest directory"),
            (["--path", dir.path + "/new", "--bogus"], "Unknown option '--bogus'"),
            (["--path", dir.path + "/new", "--min-run-ms", "50", "--max-run-ms", "10"], "--max-run-ms must be at least --min-run-ms"),
            (["--path", dir.path + "/new", "--keys", "1"], "--keys must be in 2...1000000"),
            (["--path", dir.path + "/new", "--iterations", "0"], "--iterations must be in 1...1000000000"),
            (["--path", dir.path + "/new", "--iteration=-3"], "--iteration must be in 0...1000000000"),
            (["--path", dir.path + "/new", "--failpoint-timeout", "1e300"], "--failpoint-timeout must be in (0, 86400] seconds"),
            (["--path", dir.path + "/new", "--seed=-1"], "The value '-1' is invalid for '--seed <seed>'"),
            ([], "--path is required (except with --power-loss)"),
            (["--power-loss", "--path", dir.path + "/new"], "--power-loss runs in memory: it takes only --iterations and --seed"),
            (["--power-loss", "--zombie"], "--power-loss runs in memory: it takes only --iterations and --seed"),
            (["--path", dir.path + "/new", "--zombie", "--failpoints"], "--zombie and --failpoints are separate modes: give one"),
            (["--path", dir.path + "/new", "--zombie", "--kill-after-ops", "5"], "--kill-after-ops does not apply to --zombie"),
            (["--path", dir.path + "/new", "--zombie", "--sabotage", "lost-ack"], "--zombie takes only --sabotage zombie-unfenced"),
            (["--path", dir.path + "/new", "--sabotage", "zombie-unfenced"], "--sabotage zombie-unfenced needs --zombie"),
            (["--path", dir.path + "/new", "--min-paused-ms", "10"], "apply only to --zombie"),
            (["--path", dir.path + "/new", "--zombie", "--min-paused-ms", "500", "--max-paused-ms", "100"],
             "--max-paused-ms must be at least --min-paused-ms"),
            (["--path", dir.path + "/new", "--zombie", "--min-compactor-grace-ms=-1"], "--min-compactor-grace-ms must not be negative"),
        ]
        for (args, message) in cases {
            let r = try Self.floe(["crashtest"] + args, in: dir)
            #expect(r.status == 64, "\(args): \(r.transcript)")
            #expect(r.stderr.contains(message), "\(args): \(r.transcript)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/new"), "a refused run creates nothing")
        #expect(readWholeFile(file) == [1])
    }

    // MARK: power loss

    @Test func powerLossModeCutsPowerAndLosesNothing() throws {
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        let r = try Self.floe(["crashtest", "--power-loss", "--iterations", "6", "--seed", "11"], in: dir)
        #expect(r.status == 0, "\(r.transcript)")
        #expect(r.stdout.contains("power-loss: 6 iterations, seeds 11...16; lost committed epochs 0, partially visible epochs 0"), "\(r.transcript)")
    }
}
