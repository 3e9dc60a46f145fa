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
            (["--scan-read-ahead", "8K"], "--scan-read-ahead must be at least 16K"),
            (["--compression", "snappy"], "unknown --compression snappy; use none, lz4 or zstd"),
            (["--benchmarks", "fillrandom,nosuch"], "nosuch"),
            (["--bogus"], "Unknown option '--bogus'"),
            (["--benchmarks", "recovery", "--recovery-repeat", "0"], "--recovery-repeat must be in 1...100"),
        ]
        for (args, message) in cases {
            let r = try CrashtestProcessTests.floe(["bench", "--path", store, "--num", "1000"] + args, in: dir)
            #expect(r.status == 64, "\(args): \(r.transcript)")
            #expect(r.stderr.contains(message), "\(args): \(r.transcript)")
        }
        #expect(!FileManager.default.fileExists(atPath: store), "a refused run creates nothing")
    }

    /// `--recovery-repeat` kills and reopens each size that many times, every
    /// reopen finding all it committed, and closes with a median row per size
    /// whose figures are those of its repetitions.
    @Test func recoveryRepeatsEachSizeAndReportsTheMedian() throws {
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        let json = dir.path + ".json"
        defer { try? FileManager.default.removeItem(atPath: json) }
        let r = try CrashtestProcessTests.floe(["bench", "--benchmarks", "recovery", "--recovery-sizes", "20K,30K",
                                                "--recovery-repeat", "3", "--json", json], in: dir)
        #expect(r.status == 0, "\(r.transcript)")
        let data = try #require(FileManager.default.contents(atPath: json))
        let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let rows = try #require(doc["results"] as? [[String: Any]])
        for size in [20_000, 30_000] {
            let runs = (1...3).compactMap { n in rows.first { $0["name"] as? String == "recovery/\(size)#\(n)" } }
            #expect(runs.count == 3, "size \(size): \(rows.map { $0["name"] ?? "?" })")
            let totals = runs.compactMap { $0["total_ms"] as? Double }.sorted()
            let median = try #require(rows.first { $0["name"] as? String == "recovery/\(size) median" })
            #expect(median["repetitions"] as? Int == 3)
            #expect(totals.count == 3 && median["median_total_ms"] as? Double == totals[1], "size \(size)")
            #expect(median["min_total_ms"] as? Double == totals.first && median["max_total_ms"] as? Double == totals.last)
        }
    }
}
