#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Floe

/// Seeded random runs of puts, deletes, ranged and whole reads, restarts (a new
/// cache instance over the same directory, sometimes with another bound) and
/// damage to entry files, against a dictionary of what the remote store holds.
/// Every read must answer as the model does, a read repeated at once must cost
/// no remote read, and the bytes on disk must stay within the bound.
@Suite struct DiskCacheModelTests {
    static let namespace = DiskCachedObjectStoreTests.namespace
    static let sstPaths = (0..<6).map { "data/00000000000000\(String($0, radix: 16).leftPad(2)).sst" }
    static let otherPaths = ["manifest/00000000000000000007.delta", "leases/0000000000000001.lease"]

    enum Outcome: Equatable {
        case bytes([UInt8])
        case notFound
        case pastEnd
    }

    static func expected(_ model: [String: [UInt8]], _ path: String, _ range: Range<Int>) -> Outcome {
        guard let o = model[path] else { return .notFound }
        return range.upperBound > o.count ? .pastEnd : .bytes(Array(o[range]))
    }

    static func outcome(_ body: () async throws -> [UInt8]) async throws -> Outcome {
        do { return .bytes(try await body()) } catch FloeError.objectNotFound { return .notFound } catch FloeError.corruption { return .pastEnd }
    }

    @Test(arguments: modelSeeds(120))
    func randomRunsMatchTheModel(seed: UInt64) async throws {
        _ = try await run(seed: seed)
    }

    /// The runs damage entries that are then read: the checks above are not vacuous.
    /// Always seeds 0..<30, whatever `FLOE_SEED_STRIDE` says: the bounds below are sums over them.
    @Test func theRunsReadDamagedEntries() async throws {
        var damaged = 0, dropped: UInt64 = 0
        for seed in 0..<UInt64(30) {
            let (d, c) = try await run(seed: seed)
            damaged += d
            dropped += c
        }
        #expect(damaged > 50 && dropped > 20, "\(damaged) entries damaged, \(dropped) found damaged")
    }

    /// One run; returns the entry files it damaged and the damaged entries the caches dropped.
    func run(seed: UInt64) async throws -> (damaged: Int, dropped: UInt64) {
        let dir = try ObjectStoreTempDirectory(); defer { dir.remove() }
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ 17)
        let remote = RemoteReadCounter()
        var model: [String: [UInt8]] = [:]
        func entrySize(_ path: String, _ length: Int) -> Int { 28 + Self.namespace.utf8.count + path.utf8.count + length + 8 }
        func capacity() -> Int { [300, 2_000, 8_000, 40_000, 1 << 20][Int.random(in: 0..<5, using: &rng)] }
        func open(_ capacity: Int) throws -> DiskCachedObjectStore {
            try DiskCachedObjectStore(remote: remote, namespace: Self.namespace,
                                      options: DiskCacheOptions(directory: dir.path, capacityBytes: capacity,
                                                                writeThrough: Bool.random(using: &rng)))
        }
        var bound = capacity()
        var cache = try open(bound)
        var cacheableReads: UInt64 = 0
        var history: [(String, Range<Int>)] = []
        var damaged = 0
        var corruptSeen: UInt64 = 0
        let ctx = "seed \(seed)"

        for step in 0..<150 {
            let all = Self.sstPaths + Self.otherPaths
            let pick = all[Int.random(in: 0..<all.count, using: &rng)]
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<15: // put
                let bytes = (0..<Int.random(in: 0...3_000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                try await cache.put(pick, bytes)
                model[pick] = bytes
            case 15..<22:
                try await cache.delete(pick)
                model[pick] = nil
            case 22..<75: // ranged read, usually inside the object; half of them read again what was read before (a hot set)
                let path: String, range: Range<Int>
                if !history.isEmpty && Bool.random(using: &rng) {
                    (path, range) = history[Int.random(in: 0..<history.count, using: &rng)]
                } else {
                    path = pick
                    let size = model[path]?.count ?? 100
                    let lo = Int.random(in: 0...size, using: &rng)
                    var hi = Int.random(in: lo...max(lo, min(size, lo + 1_200)), using: &rng)
                    if Int.random(in: 0..<10, using: &rng) == 0 { hi += Int.random(in: 1...50, using: &rng) }
                    range = lo..<hi
                    history.append((path, range))
                    if history.count > 40 { history.removeFirst() }
                }
                let want = Self.expected(model, path, range)
                let got = try await Self.outcome { try await cache.get(path, range: range) }
                #expect(got == want, "\(ctx) step \(step): get \(path) \(range)")
                let cacheable = path.hasPrefix("data/") && !range.isEmpty && entrySize(path, range.count) <= bound
                if cacheable { cacheableReads += 1 }
                if case .bytes = want, cacheable {
                    // Just read, so just cached: the same read again costs nothing remote.
                    let before = remote.ranged()
                    let again = try await Self.outcome { try await cache.get(path, range: range) }
                    cacheableReads += 1
                    #expect(again == want, "\(ctx) step \(step): repeated get \(path) \(range)")
                    #expect(remote.ranged() == before, "\(ctx) step \(step): a repeated read went to the remote store")
                }
            case 75..<82: // whole read
                let got = try await Self.outcome { try await cache.get(pick) }
                #expect(got == (model[pick].map { .bytes($0) } ?? .notFound), "\(ctx) step \(step): get \(pick)")
            case 82..<90: // restart
                #expect(cache.statistics.hits + cache.statistics.misses == cacheableReads, "\(ctx) step \(step): hits + misses")
                bound = capacity()
                corruptSeen += cache.statistics.corruptDropped
                cache = try open(bound)
                cacheableReads = 0
            default: // damage one entry file
                let files = entryFiles(dir.path)
                guard !files.isEmpty else { break }
                let file = dir.path + "/" + files[Int.random(in: 0..<files.count, using: &rng)]
                guard var content = readWholeFile(file), !content.isEmpty else { break }
                switch Int.random(in: 0..<5, using: &rng) {
                case 0: content[Int.random(in: 0..<content.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
                case 1: content.removeLast(Int.random(in: 1...content.count, using: &rng))
                case 2: content.replaceSubrange(max(0, content.count - 8)..., with: (0..<min(8, content.count)).map { _ in UInt8.random(in: 0...255, using: &rng) })
                case 3: content = (0..<content.count).map { _ in UInt8.random(in: 0...255, using: &rng) }
                default: content = []
                }
                if content.isEmpty && Bool.random(using: &rng) { unlink(file) } else { _ = writeFile(file, content) }
                damaged += 1
            }
            #expect(diskBytes(dir.path) <= bound, "\(ctx) step \(step): \(diskBytes(dir.path)) bytes on disk, bound \(bound)")
            #expect(cache.statistics.bytes <= bound, "\(ctx) step \(step): cache counts \(cache.statistics.bytes) bytes")
        }
        corruptSeen += cache.statistics.corruptDropped
        // Every object reads back whole after a last restart, and every range read before.
        cache = try open(1 << 20)
        for (path, bytes) in model where !bytes.isEmpty {
            #expect(try await cache.get(path, range: 0..<bytes.count) == bytes, "\(ctx): final read of \(path)")
        }
        for (path, range) in history {
            #expect(try await Self.outcome { try await cache.get(path, range: range) } == Self.expected(model, path, range),
                    "\(ctx): final read of \(path) \(range)")
        }
        return (damaged, corruptSeen + cache.statistics.corruptDropped)
    }
}
