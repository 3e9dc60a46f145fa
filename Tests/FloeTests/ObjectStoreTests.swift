import Foundation
import Testing
@testable import Floe
import FloeTesting

/// The object store implementations the shared conformance suite runs against
/// (`powerLoss`: the local store on the simulated file system of the power-loss tests).
enum ObjectStoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case local, memory, powerLoss
    var testDescription: String { rawValue }
}

/// A fresh directory under /tmp, removed by `remove()`.
struct ObjectStoreTempDirectory {
    let path: String
    init() throws {
        var template = Array("/tmp/floe-objstore-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw FloeError.io(path: "/tmp", reason: "mkdtemp failed") }
        path = String(cString: made)
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs `body` against a fresh, empty store of `kind`, cleaning up afterwards.
func withObjectStore(_ kind: ObjectStoreKind, _ body: (any ObjectStore) async throws -> Void) async throws {
    switch kind {
    case .memory:
        try await body(MemoryObjectStore())
    case .local:
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        try await body(try LocalObjectStore(root: dir.path))
    case .powerLoss:
        try await body(try LocalObjectStore(root: "/store", fileSystem: PowerLossFileSystem()))
    }
}

/// Deterministic test bytes.
func objectTestBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
}

/// The `FloeError` `body` throws, or nil (recording an issue) if it throws something else or nothing.
func floeError(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async -> FloeError? {
    do {
        try await body()
        Issue.record("expected a FloeError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as FloeError {
        return error
    } catch {
        Issue.record("expected a FloeError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

@Suite struct ObjectStoreConformanceTests {
    @Test(arguments: ObjectStoreKind.allCases)
    func putGetOverwriteAndSize(kind: ObjectStoreKind) async throws {
        try await withObjectStore(kind) { store async throws in
            let first = objectTestBytes(10_000, seed: 1)
            try await store.put("data/0000000000000001.sst", first)
            #expect(try await store.get("data/0000000000000001.sst") == first)
            #expect(try await store.size("data/0000000000000001.sst") == 10_000)

            let second = objectTestBytes(77, seed: 2)
            try await store.put("data/0000000000000001.sst", second)
            #expect(try await store.get("data/0000000000000001.sst") == second)
            #expect(try await store.get("data/0000000000000001.sst", range: 10..<20) == Array(second[10..<20]))
            #expect(try await store.size("data/0000000000000001.sst") == 77)

            try await store.put("empty", [])
            #expect(try await store.get("empty") == [])
            #expect(try await store.size("empty") == 0)
        }
    }

    @Test(arguments: ObjectStoreKind.allCases)
    func rangedGets(kind: ObjectStoreKind) async throws {
        try await withObjectStore(kind) { store async throws in
            let bytes = objectTestBytes(1000, seed: 3)
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
                #expect(reason.contains("1000 bytes"))
            }
        }
    }

    @Test(arguments: ObjectStoreKind.allCases)
    func missingObjectIsNotFound(kind: ObjectStoreKind) async throws {
        try await withObjectStore(kind) { store async throws in
            let path = "data/missing.sst"
            await #expect(throws: FloeError.objectNotFound(path)) { _ = try await store.get(path) }
            await #expect(throws: FloeError.objectNotFound(path)) { _ = try await store.get(path, range: 0..<1) }
            await #expect(throws: FloeError.objectNotFound(path)) { _ = try await store.size(path) }
            // A "directory" of other objects is not an object itself.
            try await store.put("data/x/y.sst", [1])
            await #expect(throws: FloeError.objectNotFound("data/x")) { _ = try await store.get("data/x") }
            await #expect(throws: FloeError.objectNotFound("data/x")) { _ = try await store.size("data/x") }
        }
    }

    @Test(arguments: ObjectStoreKind.allCases)
    func createIfAbsentCreatesOnce(kind: ObjectStoreKind) async throws {
        try await withObjectStore(kind) { store async throws in
            let path = "manifest/00000000000000000001.delta"
            #expect(try await store.createIfAbsent(path, [1, 2, 3]) == true)
            #expect(try await store.createIfAbsent(path, [9, 9]) == false)
            #expect(try await store.get(path) == [1, 2, 3])
            #expect(try await store.size(path) == 3)
        }
    }

    @Test(arguments: ObjectStoreKind.allCases)
    func concurrentCreateIfAbsentHasOneWinner(kind: ObjectStoreKind) async throws {
        try await withObjectStore(kind) { store async throws in
            let path = "manifest/00000000000000000007.delta"
            let winners = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
                for i in 0..<16 {
                    group.addTask { (i, try await store.createIfAbsent(path, objectTestBytes(4096, seed: UInt64(i)))) }
                }
                var winners: [Int] = []
                for try await (i, won) in group where won { winners.append(i) }
                return winners
            }
            #expect(winners.count == 1)
            if let winner = winners.first {
                #expect(try await store.get(path) == objectTestBytes(4096, seed: UInt64(winner)))
            }
        }
    }

    @Test(arguments: ObjectStoreKind.allCases)
    func deleteIsIdempotent(kind: ObjectStoreKind) async throws {
        try await withObjectStore(kind) { store async throws in
            try await store.delete("data/never.sst")
            try await store.put("data/d.sst", [1, 2, 3])
            #expect(try await store.get("data/d.sst") == [1, 2, 3])
            try await store.delete("data/d.sst")
            await #expect(throws: FloeError.objectNotFound("data/d.sst")) { _ = try await store.get("data/d.sst") }
            try await store.delete("data/d.sst")
            #expect(try await store.list(prefix: "data/").isEmpty)
            // The path is free again.
            #expect(try await store.createIfAbsent("data/d.sst", [4]) == true)
            #expect(try await store.get("data/d.sst") == [4])
        }
    }

    @Test(arguments: ObjectStoreKind.allCases)
    func listFiltersByPrefixAndSorts(kind: ObjectStoreKind) async throws {
        try await withObjectStore(kind) { store async throws in
            let data = ["data/0000000000000003.sst", "data/0000000000000001.sst", "data/0000000000000002.sst"]
            let manifest = ["manifest/00000000000000000002.delta", "manifest/00000000000000000001.delta",
                            "manifest/00000000000000000010.checkpoint"]
            for (i, path) in (data + manifest).enumerated() { try await store.put(path, objectTestBytes(i + 1, seed: 0)) }
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

    @Test(arguments: ObjectStoreKind.allCases)
    func invalidPathsAreRejected(kind: ObjectStoreKind) async throws {
        try await withObjectStore(kind) { store async throws in
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
}

@Suite struct LocalObjectStoreTests {
    /// Every file under `root`, relative, via a walk independent of the store.
    private func allFiles(_ root: String) throws -> [String] {
        try FileManager.default.subpathsOfDirectory(atPath: root).filter { sub in
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: root + "/" + sub, isDirectory: &isDir) && !isDir.boolValue
        }.sorted()
    }

    @Test func writesLeaveNoTempFiles() async throws {
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        let store = try LocalObjectStore(root: dir.path)
        try await store.put("data/1.sst", [1])
        try await store.put("data/1.sst", [2])
        #expect(try await store.createIfAbsent("manifest/1.delta", [3]) == true)
        #expect(try await store.createIfAbsent("manifest/1.delta", [4]) == false)
        #expect(try allFiles(dir.path) == ["data/1.sst", "manifest/1.delta"])
    }

    @Test func strayTempFilesAreNotListed() async throws {
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        let store = try LocalObjectStore(root: dir.path)
        try await store.put("data/1.sst", [1])
        #expect(FileManager.default.createFile(atPath: dir.path + "/data/.1.sst.deadbeef.tmp", contents: nil))
        #expect(FileManager.default.createFile(atPath: dir.path + "/stray.tmp", contents: nil))
        #expect(try await store.list(prefix: "").map(\.path) == ["data/1.sst"])
        #expect(try await store.list(prefix: "data/").map(\.path) == ["data/1.sst"])
    }

    @Test func initRejectsFilesAndMissingRoots() async throws {
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        let file = dir.path + "/plain"
        #expect(FileManager.default.createFile(atPath: file, contents: nil))
        #expect(throws: FloeError.notAFloeStore(file)) { _ = try LocalObjectStore(root: file) }
        let missing = dir.path + "/missing"
        #expect(throws: FloeError.notAFloeStore(missing)) { _ = try LocalObjectStore(root: missing, create: false) }
        #expect(!FileManager.default.fileExists(atPath: missing))

        let nested = dir.path + "/a/b/c/"
        let store = try LocalObjectStore(root: nested)
        try await store.put("x", [1])
        #expect(store.root == dir.path + "/a/b/c")
        #expect(try LocalObjectStore(root: nested, create: false).root == store.root)
    }

    @Test func dataSurvivesANewInstance() async throws {
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        let bytes = objectTestBytes(5000, seed: 5)
        do {
            let store = try LocalObjectStore(root: dir.path)
            try await store.put("data/0000000000000001.sst", bytes)
            #expect(try await store.createIfAbsent("manifest/00000000000000000001.delta", [7]))
        }
        let reopened = try LocalObjectStore(root: dir.path, create: false)
        #expect(try await reopened.get("data/0000000000000001.sst") == bytes)
        #expect(try await reopened.get("manifest/00000000000000000001.delta") == [7])
        #expect(try await reopened.createIfAbsent("manifest/00000000000000000001.delta", [8]) == false)
        #expect(try await reopened.list(prefix: "").map(\.path)
                == ["data/0000000000000001.sst", "manifest/00000000000000000001.delta"])
    }

    @Test func rangedReadsBeyondTheDescriptorCache() async throws {
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        let store = try LocalObjectStore(root: dir.path)
        let objects = (0..<300).map { objectTestBytes(100 + $0 * 7, seed: UInt64($0)) }
        func path(_ i: Int) -> String { "data/\(String(1_000_000 + i)).sst" }
        for (i, bytes) in objects.enumerated() { try await store.put(path(i), bytes) }

        // 1000 reads in four concurrent streams: descriptors are evicted while
        // other tasks may still be reading through them.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for stream in 0..<4 {
                group.addTask {
                    var rng = SplitMix64(seed: UInt64(stream) + 100)
                    for _ in 0..<250 {
                        let i = Int(rng.next() % 300)
                        let size = objects[i].count
                        let start = Int(rng.next() % UInt64(size))
                        let end = start + Int(rng.next() % UInt64(size - start + 1))
                        let got = try await store.get(path(i), range: start..<end)
                        #expect(got == Array(objects[i][start..<end]), "object \(i) range \(start)..<\(end)")
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(store.files.count <= LocalObjectStore.defaultDescriptorCacheCapacity)
        #expect(store.files.count > 0)

        // A cached descriptor must not outlive a delete or an overwrite.
        _ = try await store.get(path(7), range: 0..<10)
        try await store.delete(path(7))
        await #expect(throws: FloeError.objectNotFound(path(7))) { _ = try await store.get(path(7), range: 0..<10) }
        await #expect(throws: FloeError.objectNotFound(path(7))) { _ = try await store.get(path(7)) }

        _ = try await store.get(path(8))
        try await store.put(path(8), [42, 43])
        #expect(try await store.get(path(8)) == [42, 43])
        #expect(try await store.get(path(8), range: 1..<2) == [43])
    }
}

@Suite struct StaleTempFileTests {
    /// A temp file a crashed write left an hour and a half ago goes; a fresh one
    /// (a write in flight) and every object stay; a writer's GC pass runs the sweep.
    @Test func writerGCSweepsOnlyStaleTempFiles() async throws {
        let dir = try ObjectStoreTempDirectory()
        defer { dir.remove() }
        var o = StoreOptions()
        o.compaction.background = false
        let store = try await StateStore.open(path: dir.path, options: o)
        try store.put(TableID(1), key: [1], value: [2], epoch: 1)
        try await store.checkpoint(epoch: 1, metadata: [:])
        let stale = dir.path + "/data/.0000000100000009.sst.1234.tmp"
        let fresh = dir.path + "/manifest/.00000000000000000009.delta.99.tmp"
        #expect(FileManager.default.createFile(atPath: stale, contents: Data([1, 2, 3])))
        #expect(FileManager.default.createFile(atPath: fresh, contents: Data([4])))
        var old = [timeval(tv_sec: time(nil) - 5400, tv_usec: 0), timeval(tv_sec: time(nil) - 5400, tv_usec: 0)]
        #expect(utimes(stale, &old) == 0)
        try await store.collectGarbage()
        #expect(!FileManager.default.fileExists(atPath: stale))
        #expect(FileManager.default.fileExists(atPath: fresh))
        #expect(try await store.get(TableID(1), key: [1], epoch: 1) == [2])
        try await store.close()
    }
}
