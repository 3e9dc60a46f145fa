import Floe
import FloeS3
import FloeTesting
import Testing

/// Object GC on S3 deletes with DeleteObjects (`POST ?delete`, up to 1,000 keys
/// a request), never with one DELETE per object: the proxy between the store and
/// moto logs every request.
@Suite struct S3GCBatchDeleteTests {
    static func isDeleteObjects(_ e: ProxyLogEntry) -> Bool { e.method == "POST" && e.target.contains("?delete") }
    static func isDataDelete(_ e: ProxyLogEntry) -> Bool { e.method == "DELETE" && e.target.contains("/data/") }

    static func withLoggedStore(_ body: (S3ObjectStore, FaultProxy) async throws -> Void) async throws {
        let moto = try await MotoServer.shared.start()
        let bucket = uniqueBucket("gcbatch")
        let direct = try S3ObjectStore(s3Configuration(bucket: bucket, endpoint: moto), environment: [:])
        try await direct.createBucket()
        try await direct.shutdown()
        let proxy = try FaultProxy(upstream: moto, recordRequests: true) { _ in nil }
        defer { proxy.stop() }
        let store = try S3ObjectStore(s3Configuration(bucket: bucket, endpoint: proxy.endpoint, prefix: "s"), environment: [:])
        do { try await body(store, proxy) } catch {
            try? await store.shutdown()
            throw error
        }
        try await store.shutdown()
    }

    @Test func storeGCSendsDeleteObjectsAndNoDelete() async throws {
        try await Self.withLoggedStore { (objects: S3ObjectStore, proxy: FaultProxy) async throws in
            var o = StoreOptions()
            o.compaction.background = false
            o.compaction.l0CompactionTrigger = 2
            let s = try await StateStore.open(objectStore: objects, options: o)
            for e in Epoch(1)...4 {
                for k in 0..<20 { try s.put(TableID(1), key: Array("k\(k)".utf8), value: Array("v\(e)".utf8), epoch: e) }
                try await s.checkpoint(epoch: e, metadata: [:])
            }
            #expect(try await s.compactUntilQuiescent() > 0)
            let before = proxy.settledRequestLog().count
            let gc = try await s.collectGarbage(graceSeconds: 0)
            let during = proxy.settledRequestLog().dropFirst(before)
            #expect(gc.deletedObjects > 1)
            #expect(during.filter(Self.isDeleteObjects).count == 1, "\(during.map { "\($0.method) \($0.target)" })")
            #expect(during.filter(Self.isDataDelete).isEmpty)
            #expect(try await s.get(TableID(1), key: Array("k3".utf8), epoch: 4) == Array("v4".utf8))
            try await s.close()
            let report = try await StoreVerifier.verify(objectStore: objects)
            #expect(report.isClean && report.warnings.isEmpty, "\(report.problems) \(report.warnings)")
        }
    }

    /// 1,001 keys (missing ones: not an error) are two DeleteObjects requests.
    @Test func aBatchIsOneRequestPerThousandKeys() async throws {
        try await Self.withLoggedStore { (store: S3ObjectStore, proxy: FaultProxy) async throws in
            let paths = (0..<1_001).map { "data/\(String(UInt64(1) << 32 + UInt64($0), radix: 16)).sst" }
            try await store.put(paths[1_000], [1])
            let asProtocol: any ObjectStore = store
            try await asProtocol.delete(paths)
            let log = proxy.settledRequestLog()
            #expect(log.filter(Self.isDeleteObjects).count == 2)
            #expect(log.filter { $0.method == "DELETE" }.isEmpty)
            #expect(try await store.list(prefix: "data/").isEmpty)
        }
    }
}
