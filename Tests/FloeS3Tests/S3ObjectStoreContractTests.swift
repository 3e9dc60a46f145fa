import Floe
import FloeS3
import Foundation
import Testing

/// The `ObjectStore` contract (the same cases as FloeTests' `ObjectStoreConformanceTests`
/// for the local and in-memory stores) against `S3ObjectStore` on moto, with and
/// without a key prefix, and the S3-only parts: pagination, multipart uploads,
/// batched deletes, typed errors.
@Suite struct S3ObjectStoreContractTests {
    static let prefixes = ["", "tenant/a/store"]

    @Test(arguments: prefixes)
    func putGetOverwriteAndSize(prefix: String) async throws {
        try await withMotoStore(prefix: prefix) { (store: S3ObjectStore) async throws in
            let first = testBytes(10_000, seed: 1)
            try await store.put("data/0000000000000001.sst", first)
            #expect(try await store.get("data/0000000000000001.sst") == first)
            #expect(try await store.size("data/0000000000000001.sst") == 10_000)

            let second = testBytes(77, seed: 2)
            try await store.put("data/0000000000000001.sst", second)
            #expect(try await store.get("data/0000000000000001.sst") == second)
            #expect(try await store.get("data/0000000000000001.sst", range: 10..<20) == Array(second[10..<20]))
            #expect(try await store.size("data/0000000000000001.sst") == 77)

            try await store.put("empty", [])
            #expect(try await store.get("empty") == [])
            #expect(try await store.size("empty") == 0)
        }
    }

    @Test func rangedGets() async throws {
        try await withMotoStore { (store: S3ObjectStore) async throws in
            let bytes = testBytes(1000, seed: 3)
            try await store.put("data/r.sst", bytes)
            #expect(try await store.get("data/r.sst", range: 0..<1000) == bytes)
            #expect(try await store.get("data/r.sst", range: 123..<456) == Array(bytes[123..<456]))
            #expect(try await store.get("data/r.sst", range: 990..<1000) == Array(bytes[990..<1000]))
            #expect(try await store.get("data/r.sst", range: 0..<0) == [])
            #expect(try await store.get("data/r.sst", range: 500..<500) == [])
            #expect(try await store.get("data/r.sst", range: 1000..<1000) == [])

            for range in [990..<1001, 1000..<1001, 1500..<1600, 1001..<1001] {
                let error = await floeError { _ = try await store.get("data/r.sst", range: range) }
                guard case let .corruption(object, offset, reason)? = error else {
                    Issue.record("range \(range): expected corruption, got \(String(describing: error))")
                    continue
                }
                #expect(object == "data/r.sst")
                #expect(offset == range.lowerBound)
                #expect(reason.contains("1000 bytes"), "\(reason)")
            }
        }
    }

    @Test func missingObjectIsNotFound() async throws {
        try await withMotoStore { (store: S3ObjectStore) async throws in
            let path = "data/missing.sst"
            await #expect(throws: FloeError.objectNotFound(path)) { _ = try await store.get(path) }
            await #expect(throws: FloeError.objectNotFound(path)) { _ = try await store.get(path, range: 0..<1) }
            await #expect(throws: FloeError.objectNotFound(path)) { _ = try await store.get(path, range: 3..<3) }
            await #expect(throws: FloeError.objectNotFound(path)) { _ = try await store.size(path) }
            try await store.put("data/x/y.sst", [1])
            await #expect(throws: FloeError.objectNotFound("data/x")) { _ = try await store.get("data/x") }
            await #expect(throws: FloeError.objectNotFound("data/x")) { _ = try await store.size("data/x") }
        }
    }

    @Test func createIfAbsentCreatesOnce() async throws {
        try await withMotoStore { (store: S3ObjectStore) async throws in
            let path = "manifest/00000000000000000001.delta"
            #expect(try await store.createIfAbsent(path, [1, 2, 3]) == true)
            #expect(try await store.createIfAbsent(path, [9, 9]) == false)
            #expect(try await store.get(path) == [1, 2, 3])
            #expect(try await store.size(path) == 3)
            #expect(store.statistics.settledByReadBack == 0)
        }
    }

    @Test func concurrentCreateIfAbsentHasOneWinner() async throws {
        try await withMotoStore { (store: S3ObjectStore) async throws in
            for round in 0..<4 {
                let path = "manifest/0000000000000000000\(round).delta"
                let winners = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
                    for i in 0..<16 {
                        group.addTask { (i, try await store.createIfAbsent(path, testBytes(4096, seed: UInt64(i)))) }
                    }
                    var winners: [Int] = []
                    for try await (i, won) in group where won { winners.append(i) }
                    return winners
                }
                #expect(winners.count == 1, "round \(round): winners \(winners)")
                if let winner = winners.first {
                    #expect(try await store.get(path) == testBytes(4096, seed: UInt64(winner)))
                }
            }
        }
    }

    @Test func deleteIsIdempotent() async throws {
        try await withMotoStore { (store: S3ObjectStore) async throws in
            try await store.delete("data/never.sst")
            try await store.put("data/d.sst", [1, 2, 3])
            #expect(try await store.get("data/d.sst") == [1, 2, 3])
            try await store.delete("data/d.sst")
            await #expect(throws: FloeError.objectNotFound("data/d.sst")) { _ = try await store.get("data/d.sst") }
            try await store.delete("data/d.sst")
            #expect(try await store.list(prefix: "data/").isEmpty)
            #expect(try await store.createIfAbsent("data/d.sst", [4]) == true)
            #expect(try await store.get("data/d.sst") == [4])
        }
    }

    /// Small pages make every listing follow continuation tokens.
    @Test(arguments: [1000, 2])
    func listFiltersByPrefixAndSorts(pageSize: Int) async throws {
        try await withMotoStore(prefix: "p/q", configure: { $0.listPageSize = pageSize }) { (store: S3ObjectStore) async throws in
            let data = ["data/0000000000000003.sst", "data/0000000000000001.sst", "data/0000000000000002.sst"]
            let manifest = ["manifest/00000000000000000002.delta", "manifest/00000000000000000001.delta",
                            "manifest/00000000000000000010.checkpoint"]
            for (i, path) in (data + manifest).enumerated() { try await store.put(path, testBytes(i + 1, seed: 0)) }
            try await store.put("datafile", [0])
            try await store.put("data/nested/deep.sst", [0, 0])

            let listedData = try await store.list(prefix: "data/")
            #expect(listedData.map(\.path) == data.sorted() + ["data/nested/deep.sst"])
            #expect(listedData.first { $0.path == "data/0000000000000003.sst" }?.size == 1)
            #expect(listedData.first { $0.path == "data/nested/deep.sst" }?.size == 2)

            #expect(try await store.list(prefix: "manifest/").map(\.path) == manifest.sorted())
            #expect(try await store.list(prefix: "manifest/00000000000000000001").map(\.path)
                    == ["manifest/00000000000000000001.delta"])
            #expect(try await store.list(prefix: "data").map(\.path) == data.sorted() + ["data/nested/deep.sst", "datafile"])
            #expect(try await store.list(prefix: "").count == 8)
            #expect(try await store.list(prefix: "nothing/").isEmpty)
            #expect(try await store.list(prefix: "data/nested/deep.sst/").isEmpty)

            let now = Date().timeIntervalSince1970
            for info in try await store.list(prefix: "") {
                #expect(abs(info.modified - now) < 3600, "\(info.path) modified \(info.modified)")
            }
        }
    }

    /// Two stores with different prefixes in one bucket do not see each other.
    @Test func prefixesIsolateStores() async throws {
        let endpoint = try await MotoServer.shared.start()
        let bucket = uniqueBucket()
        let a = try S3ObjectStore(s3Configuration(bucket: bucket, endpoint: endpoint, prefix: "a"), environment: [:])
        let b = try S3ObjectStore(s3Configuration(bucket: bucket, endpoint: endpoint, prefix: "/b/"), environment: [:])
        try await a.createBucket()
        try await a.put("data/1.sst", [1])
        try await b.put("data/1.sst", [2])
        #expect(try await b.createIfAbsent("x", [3]))
        #expect(try await a.list(prefix: "").map(\.path) == ["data/1.sst"])
        #expect(try await b.list(prefix: "").map(\.path) == ["data/1.sst", "x"])
        #expect(try await a.get("data/1.sst") == [1])
        #expect(a.url == "s3://\(bucket)/a/" && b.url == "s3://\(bucket)/b/")
        try await a.shutdown()
        try await b.shutdown()
    }

    @Test func invalidPathsAreRejected() async throws {
        try await withMotoStore { (store: S3ObjectStore) async throws in
            for path in ["", "/abs/x.sst", "a/../b", "..", "./a", "a//b", "a/", "a\u{0}b", "data/x.tmp"] {
                for op in ["put", "createIfAbsent", "get", "size", "delete"] {
                    let error = await floeError {
                        switch op {
                        case "put": try await store.put(path, [1])
                        case "createIfAbsent": _ = try await store.createIfAbsent(path, [1])
                        case "get": _ = try await store.get(path)
                        case "size": _ = try await store.size(path)
                        default: try await store.delete(path)
                        }
                    }
                    guard case .invalidArgument? = error else {
                        Issue.record("\(op) \(path.debugDescription): expected invalidArgument, got \(String(describing: error))")
                        continue
                    }
                }
            }
            for prefix in ["/abs", "../", "a/../b", "a\u{0}"] {
                let error = await floeError { _ = try await store.list(prefix: prefix) }
                guard case .invalidArgument? = error else {
                    Issue.record("list \(prefix.debugDescription): expected invalidArgument, got \(String(describing: error))")
                    continue
                }
            }
            try await store.put("ok", [1])
            let error = await floeError { _ = try await store.get("ok", range: -1..<1) }
            guard case .invalidArgument? = error else {
                Issue.record("negative range: expected invalidArgument, got \(String(describing: error))")
                return
            }
            #expect(try await store.list(prefix: "").map(\.path) == ["ok"])
        }
    }

    /// Above the threshold an object goes up in parts (three here, the last short),
    /// in parallel, and reads back whole and across part boundaries.
    @Test func multipartUploadRoundTrips() async throws {
        try await withMotoStore(configure: { $0.multipartThreshold = 6 << 20; $0.partSize = 5 << 20; $0.maxConcurrentParts = 2 }) { (store: S3ObjectStore) async throws in
            let bytes = testBytes((12 << 20) + 321, seed: 9)
            let before = store.statistics.requests
            try await store.put("data/big.sst", bytes)
            // Create, three parts, complete.
            #expect(store.statistics.requests - before == 5)
            #expect(try await store.size("data/big.sst") == bytes.count)
            #expect(try await store.get("data/big.sst") == bytes)
            let boundary = 5 << 20
            #expect(try await store.get("data/big.sst", range: (boundary - 10)..<(boundary + 10)) == Array(bytes[(boundary - 10)..<(boundary + 10)]))
            // Overwriting with a small object replaces it.
            try await store.put("data/big.sst", [7])
            #expect(try await store.get("data/big.sst") == [7])
        }
    }

    /// A part that fails for good aborts the upload: no object appears, and the error names the key.
    @Test func failedMultipartUploadIsAbortedAndLeavesNoObject() async throws {
        // moto rejects parts under 5 MiB (EntityTooSmall) at completion: a deterministic failure.
        try await withMotoStore(configure: { $0.multipartThreshold = 1 << 20; $0.partSize = 1 << 20 }) { (store: S3ObjectStore) async throws in
            let error = await floeError { try await store.put("data/small-parts.sst", testBytes(3 << 20, seed: 4)) }
            guard case let .io(path, reason)? = error else {
                Issue.record("expected io, got \(String(describing: error))")
                return
            }
            #expect(path.hasSuffix("/data/small-parts.sst") && path.hasPrefix("s3://floe-"), "\(path)")
            #expect(reason.contains("CompleteMultipartUpload") && reason.contains("HTTP 400"), "\(reason)")
            await #expect(throws: FloeError.objectNotFound("data/small-parts.sst")) { _ = try await store.size("data/small-parts.sst") }
        }
    }

    /// A listed object's `modified` is never before its write (moto, like S3, lists
    /// whole seconds): GC's grace period counts from it, so an earlier time would
    /// let GC delete an SST younger than the grace.
    @Test func listedModificationTimesAreNeverBeforeTheWrite() async throws {
        try await withMotoStore { (store: S3ObjectStore) async throws in
            for i in 0..<5 {
                let before = Date().timeIntervalSince1970
                try await store.put("data/\(i).sst", [UInt8(i)])
                let listed = try #require(try await store.list(prefix: "data/\(i).sst").first)
                #expect(listed.modified >= before, "object \(i): listed as modified at \(listed.modified), written after \(before)")
                #expect(listed.modified <= Date().timeIntervalSince1970 + 1, "object \(i): \(listed.modified) is in the future")
                try await Task.sleep(for: .milliseconds(150))
            }
        }
    }

    @Test func batchedDeleteRemovesEveryObject() async throws {
        try await withMotoStore(prefix: "gc") { (store: S3ObjectStore) async throws in
            let paths = (0..<25).map { "data/\(1000 + $0).sst" }
            for p in paths { try await store.put(p, [1]) }
            try await store.delete(Array(paths[0..<20]) + ["data/never-there.sst"])
            #expect(try await store.list(prefix: "data/").map(\.path) == Array(paths[20...]))
        }
    }

    /// moto honours If-None-Match: the probe passes, costs three requests and leaves nothing behind.
    @Test func conditionalWriteProbeLeavesNothing() async throws {
        try await withMotoStore(prefix: "probe") { (store: S3ObjectStore) async throws in
            let before = store.statistics.requests
            try await store.checkConditionalWrites()
            #expect(store.statistics.requests - before == 3)
            #expect(try await store.list(prefix: "").isEmpty)
        }
    }

    /// Errors name the bucket and key and the HTTP status, and never any part of the credentials.
    @Test func errorsNameBucketKeyAndStatusButNoCredentials() async throws {
        let endpoint = try await MotoServer.shared.start()
        let secret = "sEcReT-" + String(UInt64.random(in: 0 ... .max), radix: 36)
        let token = "ToKeN-" + String(UInt64.random(in: 0 ... .max), radix: 36)
        var c = s3Configuration(bucket: uniqueBucket("missing"), endpoint: endpoint)
        c.credentials = S3Credentials(accessKeyID: "AKIDVISIBLEIDX", secretAccessKey: secret, sessionToken: token)
        let store = try S3ObjectStore(c, environment: [:])
        defer { Task { try? await store.shutdown() } }
        let error = await floeError { try await store.put("data/1.sst", [1]) }
        guard case let .io(path, reason)? = error else {
            Issue.record("expected io, got \(String(describing: error))")
            return
        }
        #expect(path == "s3://\(c.bucket)/data/1.sst")
        #expect(reason.contains("HTTP 404") && reason.contains("NoSuchBucket"), "\(reason)")
        // A missing bucket is not a missing object.
        let getError = await floeError { _ = try await store.get("data/1.sst") }
        guard case .io? = getError else { Issue.record("expected io, got \(String(describing: getError))"); return }

        // No server at all: transport errors after the retries, still naming the object.
        var dead = s3Configuration(bucket: "b", endpoint: "http://127.0.0.1:\(try freePort())")
        dead.credentials = c.credentials
        dead.retry = S3RetryPolicy(maxAttempts: 3, baseDelay: 0.001, maxDelay: 0.01)
        dead.connectTimeout = 0.5
        let deadStore = try S3ObjectStore(dead, environment: [:])
        let deadError = await floeError { _ = try await deadStore.get("manifest/1.delta") }
        guard case let .io(deadPath, deadReason)? = deadError else {
            Issue.record("expected io, got \(String(describing: deadError))")
            return
        }
        #expect(deadPath == "s3://b/manifest/1.delta")
        #expect(deadReason.contains("after 3 attempts") && deadReason.contains("transport"), "\(deadReason)")
        #expect(deadStore.statistics.retries == 2)
        try await deadStore.shutdown()

        for text in [String(describing: error!), String(describing: getError!), String(describing: deadError!),
                     String(describing: c.credentials!), String(reflecting: c.credentials!)] {
            #expect(!text.contains(secret) && !text.contains(token), "credentials leaked: \(text)")
        }
    }
}
