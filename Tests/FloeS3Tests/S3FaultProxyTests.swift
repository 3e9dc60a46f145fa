import Floe
import FloeS3
import FloeTesting
import Testing

/// `S3ObjectStore` through `FaultProxy` (loopback, between the store and moto):
/// injected 500/503/429, 409 on conditional puts, resets before and after the
/// request reached moto (lost acknowledgements), truncated and slow bodies.
@Suite struct S3FaultProxyTests {
    /// A plan injecting `fault` into the first `count` requests that satisfy `matching`.
    static func script(_ fault: ProxyFault, count: Int = 1,
                       matching: @escaping @Sendable (ProxyRequest) -> Bool = { _ in true }) -> @Sendable (ProxyRequest) -> ProxyFault? {
        let left = Lock(count)
        return { request in
            guard matching(request) else { return nil }
            return left.withLock { n in
                guard n > 0 else { return nil }
                n -= 1
                return fault
            }
        }
    }

    /// Runs `body` on a store that reaches a fresh bucket through a proxy following `plan`.
    static func withProxiedStore(_ plan: @escaping @Sendable (ProxyRequest) -> ProxyFault?,
                                 _ body: (S3ObjectStore, FaultProxy) async throws -> Void) async throws {
        let moto = try await MotoServer.shared.start()
        let bucket = uniqueBucket("proxy")
        let direct = try S3ObjectStore(s3Configuration(bucket: bucket, endpoint: moto), environment: [:])
        try await direct.createBucket()
        try await direct.shutdown()
        let proxy = try FaultProxy(upstream: moto, plan: plan)
        defer { proxy.stop() }
        let store = try S3ObjectStore(s3Configuration(bucket: bucket, endpoint: proxy.endpoint), environment: [:])
        do { try await body(store, proxy) } catch {
            try? await store.shutdown()
            throw error
        }
        try await store.shutdown()
    }

    /// A conditional PUT that created the object but whose reply was lost (the
    /// connection reset after moto answered) is retried, meets 412, reads the
    /// object back, finds its own bytes: created, `true`.
    @Test(arguments: [ProxyFault.resetAfter, .internalErrorAfter])
    func lostAcknowledgementOfACreateIsSettledAsCreated(fault: ProxyFault) async throws {
        try await Self.withProxiedStore(Self.script(fault, matching: { $0.conditional })) { (store: S3ObjectStore, proxy: FaultProxy) async throws in
            let bytes = testBytes(300, seed: 1)
            #expect(try await store.createIfAbsent("manifest/00000000000000000001.delta", bytes) == true)
            #expect(proxy.counts[fault] == 1)
            #expect(store.statistics.settledByReadBack == 1)
            #expect(try await store.get("manifest/00000000000000000001.delta") == bytes)
        }
    }

    /// The same loss when another writer's object was there: moto's 412 never
    /// reached the store (the proxy answered 500 instead), the retry's 412 did,
    /// the bytes read back differ: `false`.
    @Test func lostAcknowledgementOfARefusalIsSettledAsTaken() async throws {
        let seen = Lock(0)
        try await Self.withProxiedStore({ request in
            guard request.conditional else { return nil }
            // The second conditional PUT loses its answer.
            return seen.withLock { n in
                n += 1
                return n == 2 ? .internalErrorAfter : nil
            }
        }) { (store: S3ObjectStore, proxy: FaultProxy) async throws in
            #expect(try await store.createIfAbsent("m/1", [1, 1, 1]) == true)
            #expect(try await store.createIfAbsent("m/1", [9, 9]) == false)
            #expect(proxy.counts[.internalErrorAfter] == 1)
            #expect(store.statistics.settledByReadBack == 1)
            #expect(try await store.get("m/1") == [1, 1, 1])
        }
    }

    /// Every kind of fault, injected into the first two requests of each
    /// operation, is retried to the right answer (a slow body just arrives).
    @Test(arguments: ProxyFault.storm)
    func everyFaultIsRetried(fault: ProxyFault) async throws {
        let armed = Lock(false)
        let plan = Self.script(fault, count: 1_000_000)
        let injected = Lock(0)
        try await Self.withProxiedStore({ request in
            // Two faults per armed operation, then let it through.
            guard armed.withLock({ $0 }) else { return nil }
            if fault == .conditionalConflict && !request.conditional { return nil }
            guard let f = plan(request) else { return nil }
            return injected.withLock { n in
                guard n < 2 else { return nil }
                n += 1
                return f
            }
        }) { (store: S3ObjectStore, proxy: FaultProxy) async throws in
            func arm() { armed.withLock { $0 = true }; injected.withLock { $0 = 0 } }
            let bytes = testBytes(5000, seed: 7)
            arm(); try await store.put("data/1.sst", bytes)
            arm(); #expect(try await store.get("data/1.sst") == bytes)
            arm(); #expect(try await store.get("data/1.sst", range: 100..<2100) == Array(bytes[100..<2100]))
            arm(); #expect(try await store.size("data/1.sst") == 5000)
            arm(); #expect(try await store.list(prefix: "data/").map(\.path) == ["data/1.sst"])
            arm(); #expect(try await store.createIfAbsent("manifest/1.delta", [1, 2]) == true)
            arm(); #expect(try await store.createIfAbsent("manifest/1.delta", [3]) == false)
            arm(); try await store.delete("data/1.sst")
            armed.withLock { $0 = false }
            await #expect(throws: FloeError.objectNotFound("data/1.sst")) { _ = try await store.get("data/1.sst") }
            let count = proxy.counts[fault] ?? 0
            // 409 goes to conditional puts only, truncation to answers with a body only.
            #expect(count >= 4, "\(fault) injected \(count) times")
            if fault == .slowBody {
                // Slow but within the request timeout: no retry needed.
                #expect(store.statistics.retries == 0)
            } else {
                #expect(store.statistics.retries >= count, "\(fault): \(store.statistics)")
            }
        }
    }

    /// A request that gets no answer within `requestTimeout` is abandoned and retried.
    @Test func aStalledRequestTimesOutAndIsRetried() async throws {
        let moto = try await MotoServer.shared.start()
        let bucket = uniqueBucket("stall")
        let direct = try S3ObjectStore(s3Configuration(bucket: bucket, endpoint: moto), environment: [:])
        try await direct.createBucket()
        try await direct.put("data/1.sst", [1, 2, 3])
        try await direct.shutdown()
        let proxy = try FaultProxy(upstream: moto, plan: Self.script(.stall))
        defer { proxy.stop() }
        var c = s3Configuration(bucket: bucket, endpoint: proxy.endpoint)
        // Long enough for moto's answers under the load of the other suites, far below the stall.
        c.requestTimeout = 3
        let store = try S3ObjectStore(c, environment: [:])
        let start = ContinuousClock.now
        #expect(try await store.get("data/1.sst") == [1, 2, 3])
        let elapsed = ContinuousClock.now - start
        #expect(proxy.counts[.stall] == 1)
        // The stalled attempt was given up (a transport failure: the timeout) and retried;
        // waiting for the stalled answer would have been no failure at all.
        #expect(store.statistics.transportFailures >= 1 && store.statistics.retries >= 1, "\(store.statistics)")
        #expect(elapsed >= .seconds(3), "took \(elapsed)")
        try await store.shutdown()
    }

    /// `maxConnections` bounds the pool: 24 concurrent reads over slow answers
    /// share 2 connections, and every read is right.
    @Test func theConnectionPoolIsBounded() async throws {
        let moto = try await MotoServer.shared.start()
        let bucket = uniqueBucket("pool")
        let direct = try S3ObjectStore(s3Configuration(bucket: bucket, endpoint: moto), environment: [:])
        try await direct.createBucket()
        for i in 0..<4 { try await direct.put("data/\(i).sst", testBytes(100, seed: UInt64(i))) }
        try await direct.shutdown()
        let proxy = try FaultProxy(upstream: moto, plan: { _ in .slowBody })
        defer { proxy.stop() }
        var c = s3Configuration(bucket: bucket, endpoint: proxy.endpoint)
        c.maxConnections = 2
        let store = try S3ObjectStore(c, environment: [:])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<24 {
                group.addTask {
                    let got = try await store.get("data/\(n % 4).sst", range: 10..<60)
                    #expect(got == Array(testBytes(100, seed: UInt64(n % 4))[10..<60]), "read \(n)")
                }
            }
            try await group.waitForAll()
        }
        #expect(proxy.counts[.slowBody] == 24)
        #expect(proxy.peakClients <= 2 && proxy.peakClients >= 1, "peak \(proxy.peakClients) connections")
        try await store.shutdown()
    }

    /// Retries give up after `maxAttempts` with an error naming the object and the last failure.
    @Test func persistentFailureGivesUpWithATypedError() async throws {
        try await Self.withProxiedStore(Self.script(.slowDown, count: 1_000_000)) { (store: S3ObjectStore, _: FaultProxy) async throws in
            let error = await floeError { _ = try await store.get("data/x.sst") }
            guard case let .io(path, reason)? = error else {
                Issue.record("expected io, got \(String(describing: error))")
                return
            }
            #expect(path == "s3://\(store.configuration.bucket)/data/x.sst")
            #expect(reason.contains("after 10 attempts") && reason.contains("HTTP 503 SlowDown"), "\(reason)")
        }
    }

    static let stormSeeds: [UInt64] = Array(0..<12)

    /// The model-based store test through a storm of every fault (about one
    /// request in seven): retries make it correct, and at the end every
    /// acknowledged commit is in the bucket as moto itself serves it.
    @Test(arguments: stormSeeds)
    func modelRunThroughAFaultStorm(seed: UInt64) async throws {
        let moto = try await MotoServer.shared.start()
        let bucket = uniqueBucket("storm")
        let proxy = try FaultProxy(upstream: moto, plan: FaultProxy.seededPlan(seed: seed, rate: 0.15))
        defer { proxy.stop() }
        let direct = s3Configuration(bucket: bucket, endpoint: moto, prefix: "storm")
        var proxied = s3Configuration(bucket: bucket, endpoint: proxy.endpoint, prefix: "storm")
        proxied.listPageSize = 5
        let creator = try S3ObjectStore(direct, environment: [:])
        try await creator.createBucket()
        try await creator.shutdown()
        var run = S3ModelRun(seed: seed, configuration: proxied, createBucket: false)
        run.direct = direct
        run.operations = 30
        try await run.execute()
        let injected = proxy.counts.values.reduce(0, +)
        #expect(injected > 5, "seed \(seed): only \(injected) faults injected (\(proxy.counts))")
    }
}

/// Multipart uploads send their parts in parallel, never more than
/// `maxConcurrentParts` at once: the proxy slows every UploadPart answer by 30 ms
/// and logs when each request was in flight.
@Suite struct S3MultipartConcurrencyTests {
    @Test(arguments: [1, 3])
    func partsGoUpInParallelWithinTheLimit(limit: Int) async throws {
        let moto = try await MotoServer.shared.start()
        let bucket = uniqueBucket("parts")
        let direct = try S3ObjectStore(s3Configuration(bucket: bucket, endpoint: moto), environment: [:])
        try await direct.createBucket()
        try await direct.shutdown()
        let proxy = try FaultProxy(upstream: moto, recordRequests: true) { request in
            request.method == "PUT" && request.target.contains("partNumber=") ? .slowBody : nil
        }
        defer { proxy.stop() }
        var c = s3Configuration(bucket: bucket, endpoint: proxy.endpoint)
        c.multipartThreshold = 6 << 20
        c.partSize = 5 << 20
        c.maxConcurrentParts = limit
        let store = try S3ObjectStore(c, environment: [:])
        // Six parts: five of 5 MiB (moto's minimum but for the last) and a short one.
        let bytes = testBytes((25 << 20) + 999, seed: 21)
        try await store.put("data/big.sst", bytes)
        let log = proxy.settledRequestLog()
        let parts = log.filter { $0.method == "PUT" && $0.target.contains("partNumber=") }
        #expect(parts.count == 6, "limit \(limit): \(parts.count) UploadPart requests")
        let peak = ProxyLogEntry.peakOverlap(parts)
        if limit == 1 {
            #expect(peak == 1, "limit 1: \(peak) parts in flight at once")
        } else {
            #expect(peak >= 2 && peak <= limit, "limit \(limit): \(peak) parts in flight at once")
        }
        // One CreateMultipartUpload and one CompleteMultipartUpload.
        let posts = log.filter { $0.method == "POST" }
        #expect(posts.count == 2, "\(posts.map(\.target))")
        #expect(try await store.get("data/big.sst") == bytes)
        try await store.shutdown()
    }
}
