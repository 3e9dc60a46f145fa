import Floe
import FloeS3
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `FloeStoreURL` parsing, `StateStore.open(url:)` on S3 (moto), `file://` and plain
/// paths, and the `floe` commands that take a store path run against an `s3://` URL.
@Suite struct FloeStoreURLTests {
    @Test func parsesS3URLsWithEveryParameter() throws {
        let url = "s3://my-bucket/tenants/a%20b?endpoint=http://127.0.0.1:9000&region=eu-west-1&path-style=1"
            + "&profile=ci&multipart-threshold=10485760&part-size=5242880&max-connections=8&timeout=12.5&retries=4"
        guard case let .s3(c) = try FloeStoreURL.parse(url, environment: [:]) else {
            Issue.record("not parsed as s3")
            return
        }
        #expect(c.bucket == "my-bucket")
        #expect(c.prefix == "tenants/a b")
        #expect(c.endpoint == "http://127.0.0.1:9000")
        #expect(c.region == "eu-west-1")
        #expect(c.addressing == .pathStyle)
        #expect(c.profile == "ci")
        #expect(c.multipartThreshold == 10 << 20 && c.partSize == 5 << 20)
        #expect(c.maxConnections == 8 && c.requestTimeout == 12.5 && c.retry.maxAttempts == 4)
        #expect(c.credentials == nil)
    }

    @Test func s3DefaultsComeFromTheEnvironment() throws {
        guard case let .s3(plain) = try FloeStoreURL.parse("s3://b", environment: [:]) else { Issue.record("not s3"); return }
        #expect(plain.prefix == "" && plain.region == "us-east-1" && plain.endpoint == nil && plain.addressing == .automatic)
        let env = ["AWS_REGION": "ap-south-1", "AWS_ENDPOINT_URL": "http://minio:9000", "AWS_ENDPOINT_URL_S3": "http://s3only:9000"]
        guard case let .s3(c) = try FloeStoreURL.parse("s3://b/p/", environment: env) else { Issue.record("not s3"); return }
        #expect(c.region == "ap-south-1" && c.endpoint == "http://s3only:9000" && c.prefix == "p/")
        guard case let .s3(d) = try FloeStoreURL.parse("s3://b?region=us-west-2&path-style=0",
                                                       environment: ["AWS_DEFAULT_REGION": "x"]) else { Issue.record("not s3"); return }
        #expect(d.region == "us-west-2" && d.addressing == .virtualHosted)
    }

    @Test func diskCacheParameters() throws {
        guard case let .s3(c) = try FloeStoreURL.parse("s3://b/p?endpoint=http://h:1&cache-dir=/var/cache/f%20o&cache-bytes=4096&cache-write-through=1",
                                                       environment: [:]) else { Issue.record("not s3"); return }
        #expect(c.diskCache == DiskCacheOptions(directory: "/var/cache/f o", capacityBytes: 4096, writeThrough: true))
        #expect(c.diskCacheNamespace == "s3://http://h:1/b/p/")
        guard case let .s3(d) = try FloeStoreURL.parse("s3://b?cache-dir=/c", environment: [:]) else { Issue.record("not s3"); return }
        #expect(d.diskCache == DiskCacheOptions(directory: "/c", capacityBytes: 1 << 30, writeThrough: false))
        guard case let .s3(none) = try FloeStoreURL.parse("s3://b", environment: [:]) else { Issue.record("not s3"); return }
        #expect(none.diskCache == nil)
    }

    /// A URL with `cache-dir` opens an S3 store behind a disk cache (no request is sent).
    @Test func cacheDirWrapsTheS3Store() throws {
        var template = Array("/tmp/floe-urlcache-XXXXXX".utf8CString)
        let dir = String(cString: try #require(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"]
        let url = "s3://b?endpoint=http://127.0.0.1:1&cache-dir=\(dir)/cache&cache-bytes=1000000"
        guard case let .s3(c) = try FloeStoreURL.parse(url, environment: env) else { Issue.record("not s3"); return }
        var configuration = c
        configuration.credentials = S3Credentials(accessKeyID: "testing", secretAccessKey: "testing")
        let store = try configuration.objectStore()
        let cached = try #require(store as? DiskCachedObjectStore)
        #expect(cached.remote is S3ObjectStore && cached.options.capacityBytes == 1_000_000)
        #expect(cached.namespace == "s3://http://127.0.0.1:1/b/")
    }

    @Test func localPathsAndFileURLs() throws {
        #expect(try FloeStoreURL.parse("/tmp/store", environment: [:]) == .local(path: "/tmp/store"))
        #expect(try FloeStoreURL.parse("relative/dir", environment: [:]) == .local(path: "relative/dir"))
        #expect(try FloeStoreURL.parse("file:///tmp/a%20store", environment: [:]) == .local(path: "/tmp/a store"))
        #expect(try FloeStoreURL.parse("file://localhost/tmp/x", environment: [:]) == .local(path: "/tmp/x"))
        #expect(!FloeStoreURL.isURL("/tmp/store") && FloeStoreURL.isURL("file:///x") && FloeStoreURL.isRemote("s3://b"))
    }

    @Test(arguments: ["s3://", "s3:///prefix", "s3://b?colour=blue", "s3://b?path-style=maybe", "s3://b?retries=0",
                      "s3://b?timeout=-1", "s3://b?cache-bytes=100", "s3://b?cache-dir=/c&cache-bytes=0", "s3://b?cache-dir=",
                      "s3://b?cache-dir=/c&cache-write-through=maybe", "s3://b?endpoint=ftp://x", "s3://b?endpoint=http://h:99999", "file://host/x", "s3://b/%zz"])
    func malformedURLsAreInvalidArguments(url: String) {
        let error = #expect(throws: FloeError.self) { _ = try FloeStoreURL.parse(url, environment: [:]) }
        guard case .invalidArgument? = error else {
            Issue.record("\(url): expected invalidArgument, got \(String(describing: error))")
            return
        }
    }

    /// Fixed test credentials in this process's environment (moto does not check
    /// them); real ones already set are left alone.
    static func exportTestCredentials() {
        setenv("AWS_ACCESS_KEY_ID", motoCredentials.accessKeyID, 0)
        setenv("AWS_SECRET_ACCESS_KEY", motoCredentials.secretAccessKey, 0)
    }

    /// A new bucket on moto and the URL of a store in it.
    static func newStoreURL(_ label: String) async throws -> String {
        let moto = try await MotoServer.shared.start()
        let bucket = uniqueBucket(label)
        let creator = try S3ObjectStore(s3Configuration(bucket: bucket, endpoint: moto), environment: [:])
        try await creator.createBucket()
        try await creator.shutdown()
        return "s3://\(bucket)/stores/one?endpoint=\(moto)&region=us-east-1&path-style=1"
    }

    static func options() -> StoreOptions {
        var o = StoreOptions()
        o.compaction.background = false
        return o
    }

    @Test func openByURLOnS3() async throws {
        Self.exportTestCredentials()
        let url = try await Self.newStoreURL("url")
        let store = try await StateStore.open(url: url, options: Self.options())
        for e in Epoch(1)...3 {
            try store.put(TableID(1), key: Array("k\(e)".utf8), value: [UInt8(e)], epoch: e)
            try await store.checkpoint(epoch: e, metadata: ["epoch": [UInt8(e)]])
        }
        try await store.close()
        let reader = try await StateStore.openReadOnly(url: url, options: Self.options())
        #expect(reader.committedEpoch == 3 && reader.committedMetadata["epoch"] == [3])
        #expect(try await reader.get(TableID(1), key: Array("k2".utf8), epoch: 3) == [2])
        try await reader.close()
    }

    /// On moto: a store opened by a URL with `cache-dir` serves its second open's
    /// reads from the disk cache (its counters, via `StoreStatistics`, show hits and
    /// no misses), and reads back what it wrote.
    @Test func openByURLWithADiskCacheOnS3() async throws {
        Self.exportTestCredentials()
        let cacheDir = FileManager.default.temporaryDirectory.appendingPathComponent("floe-url-cache-\(UInt64.random(in: 0 ... .max))").path
        defer { try? FileManager.default.removeItem(atPath: cacheDir) }
        let url = try await Self.newStoreURL("cached") + "&cache-dir=\(cacheDir)&cache-bytes=16777216"
        let store = try await StateStore.open(url: url, options: Self.options())
        for e in Epoch(1)...3 {
            for i in 0..<200 { try store.put(TableID(1), key: Array("k\(e)-\(i)".utf8), value: [UInt8(e), UInt8(i)], epoch: e) }
            try await store.checkpoint(epoch: e, metadata: [:])
        }
        try await store.close()
        func readAll() async throws -> StoreStatistics {
            let reader = try await StateStore.openReadOnly(url: url, options: Self.options())
            for e in Epoch(1)...3 {
                for i in stride(from: 0, to: 200, by: 7) {
                    #expect(try await reader.get(TableID(1), key: Array("k\(e)-\(i)".utf8), epoch: 3) == [UInt8(e), UInt8(i)])
                }
            }
            let s = reader.statistics
            try await reader.close()
            return s
        }
        let cold = try await readAll()
        #expect(cold.diskCacheMisses > 0 && cold.diskCacheBytes > 0)
        let warm = try await readAll()
        #expect(warm.diskCacheMisses == 0 && warm.diskCacheHits > 0, "warm: \(warm.diskCacheHits) hits, \(warm.diskCacheMisses) misses")
    }

    @Test func openByURLOnLocalPathsIsUnchanged() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("floe-url-\(UInt64.random(in: 0 ... .max))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await StateStore.open(url: dir, options: Self.options())
        try store.put(TableID(1), key: [1], value: [2], epoch: 1)
        try await store.checkpoint(epoch: 1, metadata: [:])
        try await store.close()
        #expect(FileManager.default.fileExists(atPath: dir + "/manifest"))
        let viaFileURL = try await StateStore.openReadOnly(url: "file://" + dir, options: Self.options())
        #expect(try await viaFileURL.get(TableID(1), key: [1], epoch: 1) == [2])
        try await viaFileURL.close()
    }

    // MARK: - The floe tool on an s3:// URL

    /// The `floe` executable built with the tests.
    static func floeExecutable() throws -> String {
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var candidates: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            var dir = URL(fileURLWithPath: exe)
            for _ in 0..<4 {
                dir.deleteLastPathComponent()
                candidates.append(dir.path + "/floe")
            }
        }
        candidates.append(package.path + "/.build/debug/floe")
        guard let executable = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw FloeError.objectNotFound("the floe executable (looked at \(candidates)); run `swift build --build-tests`")
        }
        return executable
    }

    /// Starts `floe` with moto's test credentials, standard output and error into `output`.
    static func startFloe(_ arguments: [String], output: URL) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try floeExecutable())
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["AWS_ACCESS_KEY_ID"] = motoCredentials.accessKeyID
        env["AWS_SECRET_ACCESS_KEY"] = motoCredentials.secretAccessKey
        env["AWS_SESSION_TOKEN"] = nil
        p.environment = env
        let handle = try FileHandle(forWritingTo: output)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        try handle.close()
        return p
    }

    /// Runs `floe` to completion; its exit status and output.
    static func floe(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("floe-cli-\(UInt64.random(in: 0 ... .max)).out")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out) }
        let p = try startFloe(arguments, output: out)
        p.waitUntilExit()
        return (p.terminationStatus, try String(contentsOf: out, encoding: .utf8))
    }

    @Test func floeCommandsTakeS3URLs() async throws {
        Self.exportTestCredentials()
        let url = try await Self.newStoreURL("cli")
        var o = Self.options()
        o.compaction.l0CompactionTrigger = 2
        let store = try await StateStore.open(url: url, options: o)
        for e in Epoch(1)...4 {
            for i in 0..<50 { try store.put(TableID(1), key: Array("key-\(i)".utf8), value: Array("v\(e)".utf8), epoch: e) }
            try await store.checkpoint(epoch: e, metadata: ["source": Array("offset-\(e)".utf8)])
        }
        try await store.close()

        func run(_ args: [String], expecting needles: [String]) throws {
            let (status, output) = try Self.floe(args)
            #expect(status == 0, "floe \(args.joined(separator: " ")) exited \(status):\n\(output)")
            for needle in needles {
                #expect(output.contains(needle), "floe \(args.first!) output lacks \(needle.debugDescription):\n\(output)")
            }
        }
        try run(["stats", url], expecting: ["committed epoch", "4"])
        try run(["verify", url], expecting: ["OK: no problems"])
        try run(["manifest", "show", url], expecting: ["current version"])
        try run(["checkpoint", "create", url, "nightly"], expecting: ["created checkpoint nightly at epoch 4"])
        try run(["checkpoint", "list", url], expecting: ["nightly"])
        try run(["compact", "--path", url, "--once", "--l0-trigger", "2"], expecting: ["compactor session"])
        try run(["view", "list", "--path", url], expecting: ["committed epoch 4"])
        try run(["verify", url], expecting: ["OK: no problems"])

        // With a disk cache: the first stats reads the SSTs from S3 into it, the second
        // finds them there (its live scan reads nothing from S3).
        let cacheDir = FileManager.default.temporaryDirectory.appendingPathComponent("floe-stats-cache-\(UInt64.random(in: 0 ... .max))").path
        defer { try? FileManager.default.removeItem(atPath: cacheDir) }
        func cacheField(_ output: String, _ name: String) -> Int? {
            guard let line = output.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(name + " ") }) else { return nil }
            return Int(line.dropFirst(line.distance(from: line.startIndex, to: line.range(of: name)!.upperBound))
                .trimmingCharacters(in: .whitespaces).prefix { $0.isNumber })
        }
        let cached = url + "&cache-dir=" + cacheDir
        let first = try Self.floe(["stats", cached])
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("disk cache"), "\(first.output)")
        #expect(cacheField(first.output, "hits") == 0, "\(first.output)")
        let misses = try #require(cacheField(first.output, "misses"), "\(first.output)")
        let entries = try #require(cacheField(first.output, "entries"), "\(first.output)")
        #expect(misses > 0 && entries > 0 && entries <= misses, "\(first.output)")
        let second = try Self.floe(["stats", cached])
        #expect(cacheField(second.output, "entries") == entries, "\(second.output)")
        #expect(cacheField(second.output, "misses") == 0 && (cacheField(second.output, "hits") ?? 0) > 0, "\(second.output)")
        // Without a cache, no such section.
        #expect(!(try Self.floe(["stats", url])).output.contains("disk cache"))

        // A bucket without a store is reported as such.
        let empty = try await Self.newStoreURL("cli-empty")
        let (status, output) = try Self.floe(["stats", empty])
        #expect(status == 1 && output.contains("not a Floe store"), "\(output)")
    }
}
