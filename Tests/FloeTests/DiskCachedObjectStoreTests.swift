#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Floe

/// The local disk cache in front of a remote store: hits cost no remote read,
/// entries survive a new instance, damaged entries are never served, the byte
/// bound holds, non-SST paths bypass it, and a store opened over it reads back
/// what it wrote.
@Suite struct DiskCachedObjectStoreTests {
    static let namespace = "test://remote"

    /// Bytes of an entry file for `path` and a range of `length`, from docs/format.md §2.7:
    /// 28-byte fixed header, namespace, path, payload, 8-byte checksum.
    static func entryFileSize(_ path: String, _ length: Int) -> Int {
        28 + namespace.utf8.count + path.utf8.count + length + 8
    }

    static func object(_ n: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    func open(_ remote: any ObjectStore, _ dir: String, capacity: Int = 1 << 20, writeThrough: Bool = false) throws -> DiskCachedObjectStore {
        try DiskCachedObjectStore(remote: remote, namespace: Self.namespace,
                                  options: DiskCacheOptions(directory: dir, capacityBytes: capacity, writeThrough: writeThrough))
    }

    @Test func hitsCostNoRemoteRead() async throws {
        let dir = try ObjectStoreTempDirectory(); defer { dir.remove() }
        let remote = RemoteReadCounter()
        let bytes = Self.object(10_000, seed: 1)
        try await remote.put("data/0000000000000001.sst", bytes)
        let cache = try open(remote, dir.path)
        for _ in 0..<3 {
            #expect(try await cache.get("data/0000000000000001.sst", range: 100..<600) == Array(bytes[100..<600]))
            #expect(try await cache.get("data/0000000000000001.sst", range: 9_000..<10_000) == Array(bytes[9_000..<10_000]))
        }
        #expect(remote.ranged() == 2)
        let s = cache.statistics
        #expect(s.hits == 4 && s.misses == 2 && s.entries == 2)
        #expect(s.bytes == Self.entryFileSize("data/0000000000000001.sst", 500) + Self.entryFileSize("data/0000000000000001.sst", 1_000))
        // A different range of the same object is another entry.
        #expect(try await cache.get("data/0000000000000001.sst", range: 100..<601) == Array(bytes[100..<601]))
        #expect(remote.ranged() == 3)
    }

    @Test func aNewInstanceServesTheEntriesOfTheLast() async throws {
        let dir = try ObjectStoreTempDirectory(); defer { dir.remove() }
        let remote = RemoteReadCounter()
        let bytes = Self.object(50_000, seed: 2)
        try await remote.put("data/0000000000000002.sst", bytes)
        let ranges = (0..<20).map { i in (i * 2_000)..<(i * 2_000 + 1_500) }
        let first = try open(remote, dir.path)
        for r in ranges { _ = try await first.get("data/0000000000000002.sst", range: r) }
        #expect(remote.ranged() == 20)
        // A crash mid-write leaves a temp file: the next instance removes it.
        let stray = dir.path + "/.0000000000000000-0-5.entry.1234.tmp"
        #expect(writeFile(stray, [1, 2, 3]))
        let second = try open(remote, dir.path)
        #expect(second.statistics.entries == 20)
        #expect(readWholeFile(stray) == nil)
        for r in ranges { #expect(try await second.get("data/0000000000000002.sst", range: r) == Array(bytes[r])) }
        #expect(remote.ranged() == 20, "a restarted cache re-read its entries from the remote store")
        #expect(second.statistics.hits == 20)
    }

    @Test(arguments: ["flip", "truncate", "extend", "empty", "delete"])
    func aDamagedEntryIsRefetched(damage: String) async throws {
        let dir = try ObjectStoreTempDirectory(); defer { dir.remove() }
        let remote = RemoteReadCounter()
        let path = "data/0000000000000003.sst"
        let bytes = Self.object(4_096, seed: 3)
        try await remote.put(path, bytes)
        let cache = try open(remote, dir.path)
        #expect(try await cache.get(path, range: 1_000..<3_000) == Array(bytes[1_000..<3_000]))
        let files = entryFiles(dir.path)
        try #require(files.count == 1)
        let file = dir.path + "/" + files[0]
        var content = try #require(readWholeFile(file))
        switch damage {
        case "flip": content[content.count / 2] ^= 0x10 // inside the payload
        case "truncate": content.removeLast(9)
        case "extend": content.append(0)
        case "empty": content = []
        default: break
        }
        if damage == "delete" { unlink(file) } else { #expect(writeFile(file, content)) }
        // The same instance, and a new one over the directory, both serve the right bytes.
        #expect(try await cache.get(path, range: 1_000..<3_000) == Array(bytes[1_000..<3_000]))
        #expect(remote.ranged() == 2)
        #expect(cache.statistics.corruptDropped == (damage == "delete" ? 0 : 1))
        // The re-fetched entry is whole again.
        #expect(try await cache.get(path, range: 1_000..<3_000) == Array(bytes[1_000..<3_000]))
        #expect(remote.ranged() == 2)
    }

    @Test func aDamagedEntryFoundAfterARestartIsRefetched() async throws {
        let dir = try ObjectStoreTempDirectory(); defer { dir.remove() }
        let remote = RemoteReadCounter()
        let path = "data/0000000000000004.sst"
        let bytes = Self.object(4_096, seed: 4)
        try await remote.put(path, bytes)
        _ = try await open(remote, dir.path).get(path, range: 0..<4_096)
        let file = dir.path + "/" + entryFiles(dir.path)[0]
        var content = try #require(readWholeFile(file))
        content[3] ^= 1 // the magic
        #expect(writeFile(file, content))
        let cache = try open(remote, dir.path)
        #expect(try await cache.get(path, range: 0..<4_096) == bytes)
        #expect(cache.statistics.corruptDropped == 1 && remote.ranged() == 2)
    }

    @Test func evictionKeepsTheBoundAndDropsTheLeastRecentlyUsed() async throws {
        let dir = try ObjectStoreTempDirectory(); defer { dir.remove() }
        let remote = RemoteReadCounter()
        let path = "data/0000000000000005.sst"
        let bytes = Self.object(100_000, seed: 5)
        try await remote.put(path, bytes)
        let one = Self.entryFileSize(path, 1_000)
        let cache = try open(remote, dir.path, capacity: 10 * one + one / 2) // room for ten entries
        for i in 0..<10 { _ = try await cache.get(path, range: (i * 1_000)..<((i + 1) * 1_000)) }
        #expect(cache.statistics.entries == 10 && cache.statistics.evictions == 0)
        _ = try await cache.get(path, range: 0..<1_000) // entry 0 is now the most recently used
        _ = try await cache.get(path, range: 10_000..<11_000) // evicts entry 1
        #expect(cache.statistics.evictions == 1)
        #expect(cache.statistics.bytes <= 10 * one + one / 2)
        #expect(diskBytes(dir.path) == cache.statistics.bytes)
        let before = remote.ranged()
        _ = try await cache.get(path, range: 0..<1_000)
        #expect(remote.ranged() == before, "the recently used entry was evicted")
        _ = try await cache.get(path, range: 1_000..<2_000)
        #expect(remote.ranged() == before + 1, "the least recently used entry was kept")
        // A range larger than the whole cache is never kept.
        _ = try await cache.get(path, range: 0..<50_000)
        _ = try await cache.get(path, range: 0..<50_000)
        #expect(remote.ranged() == before + 3)
        // A smaller bound on reopen evicts down to it.
        let small = try open(remote, dir.path, capacity: 3 * one)
        #expect(small.statistics.entries == 3 && diskBytes(dir.path) <= 3 * one)
    }

    /// The order of use survives a restart: an entry read after later ones were
    /// written outlives them when a smaller bound on reopen evicts.
    @Test func aRestartKeepsTheRecentlyReadEntries() async throws {
        let dir = try ObjectStoreTempDirectory(); defer { dir.remove() }
        let remote = RemoteReadCounter()
        let path = "data/0000000000000006.sst"
        let bytes = Self.object(10_000, seed: 6)
        try await remote.put(path, bytes)
        let one = Self.entryFileSize(path, 1_000)
        // File times come from the kernel's coarse clock (a few ms): pauses keep them apart.
        func pause() async throws { try await Task.sleep(for: .milliseconds(30)) }
        let first = try open(remote, dir.path)
        for i in 0..<4 {
            _ = try await first.get(path, range: (i * 1_000)..<((i + 1) * 1_000))
            try await pause()
        }
        _ = try await first.get(path, range: 0..<1_000) // written first, used last
        try await pause()
        _ = try await first.get(path, range: 2_000..<3_000)
        #expect(first.statistics.hits == 2)
        // Room for two: the two used last stay, whatever order they were written in.
        let second = try open(remote, dir.path, capacity: 2 * one)
        #expect(second.statistics.entries == 2)
        let before = remote.ranged()
        #expect(try await second.get(path, range: 0..<1_000) == Array(bytes[0..<1_000]))
        #expect(try await second.get(path, range: 2_000..<3_000) == Array(bytes[2_000..<3_000]))
        #expect(remote.ranged() == before, "an entry read last was evicted on reopen")
        #expect(try await second.get(path, range: 1_000..<2_000) == Array(bytes[1_000..<2_000]))
        #expect(remote.ranged() == before + 1)
    }

    /// The cache directory vanishing under a running cache (a cleaned /tmp): reads
    /// still answer from the remote store, and the failed writes are only counted.
    @Test func aCacheThatCannotWriteStillAnswers() async throws {
        let dir = try ObjectStoreTempDirectory(); defer { dir.remove() }
        let remote = RemoteReadCounter()
        let path = "data/0000000000000006.sst"
        let bytes = Self.object(2_000, seed: 10)
        try await remote.put(path, bytes)
        let cache = try open(remote, dir.path + "/cache")
        _ = try await cache.get(path, range: 0..<100)
        for name in entryFiles(dir.path + "/cache") { unlink(dir.path + "/cache/" + name) }
        #expect(rmdir(dir.path + "/cache") == 0)
        #expect(try await cache.get(path, range: 0..<100) == Array(bytes[0..<100]))
        #expect(try await cache.get(path, range: 100..<300) == Array(bytes[100..<300]))
        let s = cache.statistics
        #expect(s.writeFailures == 2 && s.hits == 0 && s.misses == 3 && remote.ranged() == 3)
    }

    @Test func manifestAndOtherPathsBypassTheCache() async throws {
        let dir = try ObjectStoreTempDirectory(); defer { dir.remove() }
        let remote = RemoteReadCounter()
        let cache = try open(remote, dir.path)
        let paths = ["manifest/00000000000000000001.delta", "leases/0000000000000001.lease",
                     "readers/0000000000000003.lease", "checkpoints/a.00000000000000000002.version", "data/x.txt"]
        for p in paths { try await cache.put(p, Self.object(100, seed: 6)) }
        for p in paths {
            _ = try await cache.get(p, range: 0..<50)
            _ = try await cache.get(p, range: 0..<50)
        }
        #expect(remote.ranged() == 2 * paths.count)
        #expect(entryFiles(dir.path).isEmpty && cache.statistics.hits == 0 && cache.statistics.misses == 0)
        // A rewritten lease is read anew, never from a stale copy.
        try await cache.put("leases/0000000000000001.lease", [9, 9])
        #expect(try await cache.get("leases/0000000000000001.lease", range: 0..<2) == [9, 9])
    }

    @Test func deleteAndPutDropTheObjectsEntries() async throws {
        let dir = try ObjectStoreTempDirectory(); defer { dir.remove() }
        let remote = RemoteReadCounter()
        let a = "data/000000000000000a.sst", b = "data/000000000000000b.sst"
        try await remote.put(a, Self.object(1_000, seed: 7))
        try await remote.put(b, Self.object(1_000, seed: 8))
        let cache = try open(remote, dir.path)
        _ = try await cache.get(a, range: 0..<10); _ = try await cache.get(a, range: 10..<20)
        _ = try await cache.get(b, range: 0..<10)
        #expect(entryFiles(dir.path).count == 3)
        try await cache.delete(a)
        #expect(entryFiles(dir.path).count == 1 && cache.statistics.entries == 1)
        await #expect(throws: FloeError.self) { try await cache.get(a, range: 0..<10) }
        let replaced = Self.object(1_000, seed: 9)
        try await cache.put(b, replaced)
        #expect(try await cache.get(b, range: 0..<10) == Array(replaced[0..<10]))
    }

    @Test func writeThroughServesANewSstWithoutRemoteReads() async throws {
        let dir = try ObjectStoreTempDirectory(); defer { dir.remove() }
        let remote = RemoteReadCounter()
        let cache = try open(remote, dir.path, capacity: 64 << 20, writeThrough: true)
        var o = StoreOptions()
        o.compaction.background = false
        let store = try await StateStore.open(objectStore: cache, options: o)
        for i in 0..<2_000 { try store.put(TableID(1), key: Array("k\(i)".utf8), value: Array("v\(i)".utf8), epoch: 1) }
        try await store.checkpoint(epoch: 1, metadata: [:])
        try await store.close()
        let reader = try await StateStore.open(objectStore: cache, options: o)
        for i in stride(from: 0, to: 2_000, by: 37) {
            #expect(try await reader.get(TableID(1), key: Array("k\(i)".utf8), epoch: 1) == Array("v\(i)".utf8))
        }
        try await reader.close()
        // Partitioned filters may be probed by ranges the writer did not foresee; blocks and metas are not re-read.
        #expect(remote.ranged(prefix: "data/") <= 2, "\(remote.ranged(prefix: "data/")) SST reads after write-through")
    }

    /// A store written, then opened twice over fresh cache instances on one directory:
    /// the second open reads its SSTs from the cache only.
    @Test func aStoreOverTheCacheReadsItsSstsFromDiskAfterARestart() async throws {
        let dir = try ObjectStoreTempDirectory(); defer { dir.remove() }
        let remote = RemoteReadCounter()
        var o = StoreOptions()
        o.compaction.background = false
        var model: [Int: [UInt8]] = [:]
        let writer = try await StateStore.open(objectStore: try open(remote, dir.path, capacity: 64 << 20), options: o)
        for e in 1...4 {
            for i in stride(from: e, to: 3_000, by: 3) {
                let v = Array("value-\(i)-\(e)".utf8)
                try writer.put(TableID(1), key: Array(String(i).leftPad(6).utf8), value: v, epoch: Epoch(e))
                model[i] = v
            }
            try await writer.checkpoint(epoch: Epoch(e), metadata: [:])
        }
        try await writer.close()

        func readAll() async throws -> Int {
            let before = remote.ranged(prefix: "data/")
            let cache = try open(remote, dir.path, capacity: 64 << 20)
            let store = try await StateStore.open(objectStore: cache, options: o)
            for i in 0..<3_000 {
                #expect(try await store.get(TableID(1), key: Array(String(i).leftPad(6).utf8), epoch: 4) == model[i], "key \(i)")
            }
            #expect(store.statistics.diskCacheHits == cache.statistics.hits)
            try await store.close()
            return remote.ranged(prefix: "data/") - before
        }
        let cold = try await readAll()
        let warm = try await readAll()
        #expect(cold > 0)
        #expect(warm == 0, "\(warm) SST reads went to the remote store after the restart (\(cold) cold)")
    }

    @Test func concurrentReadersGetTheRightBytes() async throws {
        let dir = try ObjectStoreTempDirectory(); defer { dir.remove() }
        let remote = RemoteReadCounter()
        let paths = (0..<4).map { "data/000000000000010\($0).sst" }
        var objects: [String: [UInt8]] = [:]
        for (i, p) in paths.enumerated() {
            objects[p] = Self.object(20_000, seed: UInt64(100 + i))
            try await remote.put(p, objects[p]!)
        }
        let cache = try open(remote, dir.path, capacity: 40 * Self.entryFileSize(paths[0], 1_000))
        let snapshot = objects
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<8 {
                group.addTask {
                    var rng = SplitMix64(seed: UInt64(t))
                    for _ in 0..<300 {
                        let p = paths[Int.random(in: 0..<4, using: &rng)]
                        let start = Int.random(in: 0..<20, using: &rng) * 1_000
                        let got = try await cache.get(p, range: start..<(start + 1_000))
                        #expect(got == Array(snapshot[p]![start..<(start + 1_000)]))
                    }
                }
            }
            try await group.waitForAll()
        }
        let s = cache.statistics
        #expect(s.hits + s.misses == 2_400 && s.corruptDropped == 0)
        #expect(s.bytes <= 40 * Self.entryFileSize(paths[0], 1_000) && diskBytes(dir.path) == s.bytes)
    }
}

/// Names of the entry files in `dir` (not temp files).
func entryFiles(_ dir: String) -> [String] {
    guard let d = opendir(dir) else { return [] }
    defer { closedir(d) }
    var names: [String] = []
    while let e = readdir(d) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        if name.hasSuffix(".entry") && !name.hasPrefix(".") { names.append(name) }
    }
    return names.sorted()
}

/// Total size of the entry files in `dir`.
func diskBytes(_ dir: String) -> Int {
    entryFiles(dir).reduce(0) { total, name in
        var st = stat()
        return total + (stat(dir + "/" + name, &st) == 0 ? Int(st.st_size) : 0)
    }
}

/// Replaces the file at `path` with `bytes`; false on failure.
func writeFile(_ path: String, _ bytes: [UInt8]) -> Bool {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    return n == bytes.count
}
