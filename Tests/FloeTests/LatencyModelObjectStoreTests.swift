import Synchronization
import Testing
@testable import Floe
import FloeTesting

/// `LatencyModelObjectStore`: results are the wrapped store's, requests and bytes
/// are counted as S3 would bill them, the pool bounds calls in flight, and a
/// call never returns before its modelled time.
@Suite struct LatencyModelObjectStoreTests {
    static let instant = LatencyModelObjectStore.Model(readLatencySeconds: 0, writeLatencySeconds: 0, listLatencySeconds: 0,
                                                       bytesPerSecond: 1e15, maxConcurrentRequests: 4)

    /// An inner store that records how many calls are inside it at once.
    final class InFlightStore: ObjectStore {
        let inner = MemoryObjectStore()
        // Sendable: both counters are behind this lock.
        private let counts = Lock((now: 0, most: 0))
        var most: Int { counts.withLock { $0.most } }

        private func inside<T: Sendable>(_ body: () async throws -> T) async throws -> T {
            counts.withLock { c in c.now += 1; c.most = max(c.most, c.now) }
            defer { counts.withLock { $0.now -= 1 } }
            try await Task.sleep(for: .milliseconds(5))
            return try await body()
        }
        func put(_ path: String, _ bytes: [UInt8]) async throws { try await inside { try await inner.put(path, bytes) } }
        func createIfAbsent(_ path: String, _ bytes: [UInt8]) async throws -> Bool { try await inside { try await inner.createIfAbsent(path, bytes) } }
        func get(_ path: String) async throws -> [UInt8] { try await inside { try await inner.get(path) } }
        func get(_ path: String, range: Range<Int>) async throws -> [UInt8] { try await inside { try await inner.get(path, range: range) } }
        func size(_ path: String) async throws -> Int { try await inside { try await inner.size(path) } }
        func delete(_ path: String) async throws { try await inside { try await inner.delete(path) } }
        func delete(_ paths: [String]) async throws { try await inside { try await inner.delete(paths) } }
        func list(prefix: String) async throws -> [ObjectInfo] { try await inside { try await inner.list(prefix: prefix) } }
    }

    /// Random operations through the wrapper against a plain dictionary: every
    /// answer, error and count agrees.
    @Test(arguments: 0..<20 as Range<UInt64>)
    func answersAndCountsMatchAModel(seed: UInt64) async throws {
        var rng = SplitMix64(seed: seed)
        let store = try LatencyModelObjectStore(wrapping: MemoryObjectStore(), model: Self.instant)
        var model: [String: [UInt8]] = [:]
        var expected: [ObjectOperation: Int] = [:]
        var read = 0, written = 0
        for step in 0..<300 {
            let path = "o/\(rng.next() % 12)"
            let at = "seed \(seed) step \(step)"
            switch rng.next() % 6 {
            case 0:
                let bytes = (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                try await store.put(path, bytes)
                model[path] = bytes
                expected[.put, default: 0] += 1
                written += bytes.count
            case 1:
                let bytes = [UInt8(truncatingIfNeeded: step)]
                let created = try await store.createIfAbsent(path, bytes)
                #expect(created == (model[path] == nil), "\(at)")
                if created { model[path] = bytes }
                expected[.createIfAbsent, default: 0] += 1
                written += 1
            case 2:
                if let want = model[path] {
                    let lo = want.isEmpty ? 0 : Int(rng.next() % UInt64(want.count))
                    let got = try await store.get(path, range: lo..<want.count)
                    #expect(got == Array(want[lo...]), "\(at)")
                    expected[.get, default: 0] += 1
                    read += got.count
                } else {
                    await #expect(throws: FloeError.self, "\(at)") { _ = try await store.get(path) }
                }
            case 3:
                if let want = model[path] {
                    #expect(try await store.size(path) == want.count, "\(at)")
                    expected[.size, default: 0] += 1
                }
            case 4:
                try await store.delete(path)
                model[path] = nil
                expected[.delete, default: 0] += 1
            default:
                let listed = try await store.list(prefix: "o/").map(\.path).sorted()
                #expect(listed == model.keys.sorted(), "\(at)")
                expected[.list, default: 0] += 1
            }
        }
        let stats = store.statistics
        for op in ObjectOperation.allCases {
            #expect(stats[op] == expected[op] ?? 0, "seed \(seed): \(op) requests")
        }
        #expect(stats.bytesRead == read, "seed \(seed)")
        #expect(stats.bytesWritten == written, "seed \(seed)")
    }

    @Test func listCountsOneRequestPerThousandKeys() async throws {
        let inner = MemoryObjectStore()
        for i in 0..<2_500 { try await inner.put("k/\(i)", []) }
        let store = try LatencyModelObjectStore(wrapping: inner, model: Self.instant)
        #expect(try await store.list(prefix: "k/").count == 2_500)
        #expect(try await store.list(prefix: "none/").isEmpty)
        #expect(store.statistics[.list] == 3 + 1)
    }

    @Test func thePoolBoundsCallsInFlight() async throws {
        let inner = InFlightStore()
        for i in 0..<16 { try await inner.inner.put("p/\(i)", [UInt8(i)]) }
        var model = Self.instant
        model.maxConcurrentRequests = 3
        let store = try LatencyModelObjectStore(wrapping: inner, model: model)
        let got = try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for i in 0..<16 { group.addTask { try await store.get("p/\(i)") } }
            var all: [UInt8] = []
            for try await bytes in group { all += bytes }
            return all.sorted()
        }
        #expect(got == (0..<16).map { UInt8($0) })
        #expect(inner.most <= 3)
        #expect(store.statistics[.get] == 16)
    }

    /// The modelled time is a floor: latency plus bytes over bandwidth.
    @Test func aCallTakesAtLeastItsModelledTime() async throws {
        let inner = MemoryObjectStore()
        try await inner.put("big", [UInt8](repeating: 7, count: 50_000))
        let model = LatencyModelObjectStore.Model(readLatencySeconds: 0.05, writeLatencySeconds: 0.02, listLatencySeconds: 0,
                                                  bytesPerSecond: 1_000_000, maxConcurrentRequests: 1)
        let store = try LatencyModelObjectStore(wrapping: inner, model: model)
        let started = ContinuousClock.now
        #expect(try await store.get("big").count == 50_000)
        #expect(ContinuousClock.now - started >= .milliseconds(100))   // 50 ms + 50,000 B at 1 MB/s
        #expect(abs(store.statistics.modelledSeconds - 0.1) < 1e-9)
        await #expect(throws: FloeError.self) { _ = try await store.get("missing") }
        #expect(store.statistics[.get] == 1)   // a failed call is neither counted nor delayed
    }

    @Test func aModelThatCannotRunIsRejected() {
        var m = LatencyModelObjectStore.Model.s3
        m.bytesPerSecond = 0
        #expect(throws: FloeError.self) { _ = try LatencyModelObjectStore(wrapping: MemoryObjectStore(), model: m) }
        m = .s3
        m.maxConcurrentRequests = 0
        #expect(throws: FloeError.self) { _ = try LatencyModelObjectStore(wrapping: MemoryObjectStore(), model: m) }
        m = .s3
        m.readLatencySeconds = -1
        #expect(throws: FloeError.self) { _ = try LatencyModelObjectStore(wrapping: MemoryObjectStore(), model: m) }
    }
}
