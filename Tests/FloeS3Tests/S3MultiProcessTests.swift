import Floe
import FloeS3
import FloeTesting
import Foundation
import Testing

/// A writer (this process), a standalone compactor (`floe compact --gc`) and
/// readers (`floe verify`) in separate processes on one bucket: the compactor's
/// manifest records interleave with the writer's commits on S3, its GC deletes
/// what it retired, and every acknowledged epoch stays readable and exact. With
/// `throughProxy` all three reach moto through a `FaultProxy` storm (10% of
/// requests); the final check reads moto directly.
@Suite struct S3MultiProcessTests {
    @Test(arguments: [(UInt64(11), false), (UInt64(12), true)])
    func writerCompactorAndReadersKeepEveryAcknowledgedEpoch(seed: UInt64, throughProxy: Bool) async throws {
        FloeStoreURLTests.exportTestCredentials()
        let directURL = try await FloeStoreURLTests.newStoreURL("three")
        let moto = try await MotoServer.shared.start()
        let proxy = throughProxy ? try FaultProxy(upstream: moto, plan: FaultProxy.seededPlan(seed: seed, rate: 0.1)) : nil
        defer { proxy?.stop() }
        let url = proxy.map { directURL.replacingOccurrences(of: "endpoint=\(moto)", with: "endpoint=\($0.endpoint)") } ?? directURL
        var options = StoreOptions()
        options.compaction.background = false
        options.compaction.l0CompactionTrigger = 2
        let writer = try await StateStore.open(url: url, options: options)
        let table = TableID(3)

        let compactorLog = FileManager.default.temporaryDirectory.appendingPathComponent("floe-compact-\(seed)-\(UInt64.random(in: 0 ... .max)).out")
        _ = FileManager.default.createFile(atPath: compactorLog.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: compactorLog) }
        let compactor = try FloeStoreURLTests.startFloe(
            ["compact", "--path", url, "--gc", "--gc-grace-seconds", "5", "--l0-trigger", "2", "--interval-ms", "50"],
            output: compactorLog)

        var rng = SplitMix64(seed: seed)
        var model: [[UInt8]: [UInt8]] = [:]
        var readers = 0
        for epoch in Epoch(1)...30 {
            for _ in 0..<12 {
                let key = Array("key-\(rng.next() % 60)".utf8)
                if rng.next() % 5 == 0 {
                    try writer.delete(table, key: key, epoch: epoch)
                    model[key] = nil
                } else {
                    let value = Array("v\(epoch)-\(rng.next() % 1000)".utf8)
                    try writer.put(table, key: key, value: value, epoch: epoch)
                    model[key] = value
                }
            }
            try await writer.checkpoint(epoch: epoch, metadata: ["epoch": Array("\(epoch)".utf8)])
            for _ in 0..<3 {
                let key = Array("key-\(rng.next() % 60)".utf8)
                let got = try await writer.get(table, key: key, epoch: epoch)
                #expect(got == model[key], "seed \(seed) epoch \(epoch): writer reads \(String(describing: got)), acknowledged \(String(describing: model[key]))")
            }
            if epoch % 10 == 0 {
                // A reader process: the whole current version, every SST it references.
                let (status, output) = try FloeStoreURLTests.floe(["verify", url])
                #expect(status == 0 && output.contains("OK: no problems"), "seed \(seed) epoch \(epoch): floe verify\n\(output)")
                readers += 1
            }
        }
        compactor.terminate()
        compactor.waitUntilExit()
        let log = (try? String(contentsOf: compactorLog, encoding: .utf8)) ?? ""
        #expect(compactor.terminationStatus == 0, "seed \(seed): floe compact exited \(compactor.terminationStatus)\n\(log)")
        let summary = log.split(separator: "\n").last { $0.hasPrefix("floe compact: stopped by SIGTERM") || $0.hasPrefix("floe compact: done") }
        let tasks = summary.flatMap { line in
            line.split(separator: " ").firstIndex(of: "tasks").map { Int(line.split(separator: " ")[$0 - 1]) ?? 0 }
        } ?? 0
        #expect(tasks > 0, "seed \(seed): the compactor ran no task\n\(log)")

        // A fresh process view of the bucket holds exactly the acknowledged state.
        try await writer.close()
        let fresh = try await StateStore.openReadOnly(url: directURL, options: options)
        #expect(fresh.committedEpoch == 30 && fresh.committedMetadata["epoch"] == Array("30".utf8))
        var scanned: [[UInt8]: [UInt8]] = [:]
        for try await row in try await fresh.scan(table, from: nil, to: nil, epoch: 30) { scanned[row.key] = row.value }
        #expect(scanned == model, "seed \(seed): \(scanned.count) keys, acknowledged \(model.count)")
        #expect(readers == 3)
        if let proxy { #expect(proxy.counts.values.reduce(0, +) > 10, "seed \(seed): faults \(proxy.counts), forwarded \(proxy.forwarded), url \(url), proxy \(proxy.endpoint), moto \(moto)") }
        try await fresh.close()
    }
}
