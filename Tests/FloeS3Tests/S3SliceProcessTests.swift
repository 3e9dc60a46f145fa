import Floe
import FloeS3
import FloeTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The S3 slices of CI in small: `floe crashtest --store-url` and `floe eotest
/// --store-url` run as child processes with their stores on moto through a
/// seeded `FaultProxy`, and `floe s3 proxy` itself. Every failure message names
/// the seed; rerun a slice by hand with the command in docs/s3.md.
@Suite(.serialized) struct S3SliceProcessTests {
    static let seed: UInt64 = 31

    /// A new bucket on moto, a proxy in front of moto drawing faults at `rate`
    /// from `seed`, and the query string of URLs through the proxy.
    static func proxiedBucket(_ label: String, seed: UInt64, rate: Double) async throws -> (bucket: String, proxy: FaultProxy, query: String) {
        let moto = try await MotoServer.shared.start()
        let bucket = uniqueBucket(label)
        let creator = try S3ObjectStore(s3Configuration(bucket: bucket, endpoint: moto), environment: [:])
        try await creator.createBucket()
        try await creator.shutdown()
        let proxy = try FaultProxy(upstream: moto, plan: FaultProxy.seededPlan(seed: seed, rate: rate))
        return (bucket, proxy, "endpoint=\(proxy.endpoint)&region=us-east-1&path-style=1")
    }

    static func temporaryDirectory(_ label: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("floe-\(label)-\(UInt64.random(in: 0 ... .max))").path
    }

    /// The integer after `name=` in the `result:` line of `output`.
    static func resultField(_ name: String, _ output: String) -> Int? {
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("result:") }) else { return nil }
        for field in line.split(separator: " ") where field.hasPrefix(name + "=") { return Int(field.dropFirst(name.count + 1)) }
        return nil
    }

    /// Four killed workers on an S3 store through a 5% fault storm: every recovered
    /// store matches the oracle, and the proxy did inject faults the store absorbed.
    @Test func crashtestSliceThroughTheFaultProxyPasses() async throws {
        let seed = Self.seed
        let (bucket, proxy, query) = try await Self.proxiedBucket("ct", seed: seed, rate: 0.05)
        defer { proxy.stop() }
        let work = Self.temporaryDirectory("ct")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let url = "s3://\(bucket)/ct?\(query)"
        let (status, output) = try FloeStoreURLTests.floe(
            ["crashtest", "--path", work, "--store-url", url, "--iterations", "4", "--seed", "\(seed)",
             "--min-run-ms", "400", "--max-run-ms", "1200"])
        #expect(status == 0, "seed \(seed): floe crashtest exited \(status)\n\(output)")
        #expect(output.contains("store \(url)"), "seed \(seed): the header does not name the store\n\(output)")
        #expect(Self.resultField("iterations", output) == 4, "seed \(seed)\n\(output)")
        #expect(Self.resultField("lost_committed_epochs", output) == 0 && Self.resultField("partially_visible_epochs", output) == 0
            && Self.resultField("verification_failures", output) == 0, "seed \(seed)\n\(output)")
        #expect((Self.resultField("acked_epochs", output) ?? 0) > 0, "seed \(seed): no epoch acknowledged\n\(output)")
        let injected = proxy.counts.values.reduce(0, +)
        #expect(injected > 0, "seed \(seed): the proxy injected no fault (\(proxy.summary))")
        // The store was on S3, not in the working directory.
        #expect(!FileManager.default.fileExists(atPath: work + "/store"), "seed \(seed): a local store appeared in \(work)")
    }

    /// The oracle still bites on S3: a worker that acknowledges an epoch it never
    /// committed is reported as a lost committed epoch, with a replay command that
    /// names the seed and the store URL.
    @Test func crashtestOnS3CatchesALostAcknowledgement() async throws {
        let seed = Self.seed + 1
        let (bucket, proxy, query) = try await Self.proxiedBucket("ctsab", seed: seed, rate: 0.05)
        defer { proxy.stop() }
        let work = Self.temporaryDirectory("ctsab")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let url = "s3://\(bucket)/ct?\(query)"
        let (status, output) = try FloeStoreURLTests.floe(
            ["crashtest", "--path", work, "--store-url", url, "--iterations", "2", "--seed", "\(seed)", "--sabotage", "lost-ack"])
        #expect(status == 1, "seed \(seed): floe crashtest --sabotage lost-ack exited \(status)\n\(output)")
        #expect(output.contains("VIOLATION in iteration 0 (seed \(seed))") && output.contains("lost committed epochs: ") && output.contains("were acknowledged"),
                "seed \(seed)\n\(output)")
        #expect(output.contains("--seed \(seed) --iteration 0") && output.contains("--store-url '\(url)'"), "seed \(seed)\n\(output)")
    }

    /// Two eotest schedules of two kills with the killed pipelines' stores on S3
    /// through the storm: views and sinks equal the local reference run's.
    @Test func eotestSliceThroughTheFaultProxyPasses() async throws {
        let seed = Self.seed + 2
        let (bucket, proxy, query) = try await Self.proxiedBucket("eo", seed: seed, rate: 0.05)
        defer { proxy.stop() }
        let url = "s3://\(bucket)/eo?\(query)"
        let (status, output) = try FloeStoreURLTests.floe(
            ["eotest", "--schedules", "2", "--kills", "2", "--query", "eo", "--events", "2000", "--seed", "\(seed)", "--store-url", url])
        #expect(status == 0, "seed \(seed): floe eotest exited \(status)\n\(output)")
        #expect(Self.resultField("failed", output) == 0, "seed \(seed)\n\(output)")
        #expect((Self.resultField("passed", output) ?? 0) + (Self.resultField("inconclusive", output) ?? 0) == 2, "seed \(seed)\n\(output)")
        #expect(proxy.counts.values.reduce(0, +) > 0, "seed \(seed): the proxy injected no fault (\(proxy.summary))")
        // Passed schedules leave nothing in the bucket.
        let moto = try await MotoServer.shared.start()
        let reader = try S3ObjectStore(s3Configuration(bucket: bucket, endpoint: moto), environment: [:])
        let left = try await reader.list(prefix: "eo/").count
        try await reader.shutdown()
        if Self.resultField("passed", output) == 2 { #expect(left == 0, "seed \(seed): \(left) objects left under eo/") }
    }

    /// `floe s3 proxy`: endpoint on the first line, seeded faults the store's retries
    /// absorb one retry each, and the totals on SIGTERM.
    @Test func proxyCommandInjectsCountsAndStopsOnSIGTERM() async throws {
        let moto = try await MotoServer.shared.start()
        let bucket = uniqueBucket("cliproxy")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("floe-proxy-\(UInt64.random(in: 0 ... .max)).out")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out) }
        let child = try FloeStoreURLTests.startFloe(
            ["s3", "proxy", "--upstream", moto, "--seed", "7", "--fault-rate", "0.3", "--faults", "slow-down,too-many-requests,internal-error"],
            output: out)
        var endpoint = ""
        for _ in 0..<400 where endpoint.isEmpty {
            let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
            if let first = text.split(separator: "\n").first, text.contains("\n") { endpoint = String(first) }
            else { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(endpoint.hasPrefix("http://127.0.0.1:"), "first line: \(endpoint)")
        guard endpoint.hasPrefix("http://127.0.0.1:") else { child.terminate(); return }
        let store = try S3ObjectStore(s3Configuration(bucket: bucket, endpoint: endpoint), environment: [:])
        try await store.createBucket()
        for i in 0..<20 { try await store.put("data/\(i).sst", testBytes(100, seed: UInt64(i))) }
        for i in 0..<20 { #expect(try await store.get("data/\(i).sst") == testBytes(100, seed: UInt64(i))) }
        let retries = store.statistics.retries
        try await store.shutdown()
        child.terminate()
        child.waitUntilExit()
        #expect(child.terminationStatus == 0)
        let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
        let last = text.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("floe s3 proxy: stopped by SIGTERM; forwarded "), "\(text)")
        let injected = last.split(separator: " ").firstIndex(of: "injected").flatMap { i in
            Int(last.split(separator: " ")[i + 1].dropLast())
        }
        // Each of these faults is answered without forwarding and costs exactly one retry.
        #expect(injected == retries && retries > 0, "injected \(String(describing: injected)), retries \(retries): \(last)")
        #expect(last.contains("stall=0") && last.contains("reset-after=0"), "\(last)")
    }

    /// Bad options are refused with a message naming them.
    @Test(arguments: [
        (["s3", "proxy", "--upstream", "http://example.com:80"], "upstream must be http://127.0.0.1:PORT"),
        (["s3", "proxy", "--upstream", "http://127.0.0.1:9", "--faults", "gremlins"], "unknown proxy fault 'gremlins'"),
        (["s3", "proxy", "--upstream", "http://127.0.0.1:9", "--fault-rate", "1.5"], "--fault-rate must be in 0...1"),
        (["s3", "proxy", "--upstream", "http://127.0.0.1:9", "--listen", "0.0.0.0:80"], "--listen must be 127.0.0.1:PORT"),
        (["crashtest", "--path", "s3://b/p", "--iterations", "1"], "put a store on S3 with --store-url"),
        (["crashtest", "--path", "/tmp/floe-never", "--store-url", "/tmp/x"], "--store-url takes an s3:// URL"),
        (["crashtest", "--path", "/tmp/floe-never", "--store-url", "s3://b/p?endpoint=http://127.0.0.1:9", "--failpoints"], "timed kills only"),
        (["eotest", "--store-url", "s3://b?colour=blue"], "--store-url:"),
    ])
    func badOptionsAreRefused(arguments: [String], message: String) throws {
        let (status, output) = try FloeStoreURLTests.floe(arguments)
        #expect(status != 0 && output.contains(message), "floe \(arguments.joined(separator: " ")) exited \(status):\n\(output)")
    }
}
