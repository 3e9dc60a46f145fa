import Foundation
import Testing

/// `floe bench` refuses bad flags with a usage error (exit 64) that names the
/// flag, before it creates or touches a store.
@Suite struct BenchCommandProcessTests {
    @Test func badFlagsAreAClearErrorAndTouchNothing() throws {
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        let store = dir.path + "/store"
        let cases: [([String], String)] = [
            (["--l0-slowdown", "2"], "need 4 (the L0 compaction trigger) <= --l0-slowdown <= --l0-stop"),
            (["--l0-slowdown", "80", "--l0-stop", "70"], "need 4 (the L0 compaction trigger) <= --l0-slowdown <= --l0-stop"),
            (["--compaction-nice", "20"], "--compaction-nice must be in 0...19"),
            (["--compression", "snappy"], "unknown --compression snappy; use none, lz4 or zstd"),
            (["--benchmarks", "fillrandom,nosuch"], "nosuch"),
            (["--bogus"], "Unknown option '--bogus'"),
        ]
        for (args, message) in cases {
            let r = try CrashtestProcessTests.floe(["bench", "--path", store, "--num", "1000"] + args, in: dir)
            #expect(r.status == 64, "\(args): \(r.transcript)")
            #expect(r.stderr.contains(message), "\(args): \(r.transcript)")
        }
        #expect(!FileManager.default.fileExists(atPath: store), "a refused run creates nothing")
    }
}
