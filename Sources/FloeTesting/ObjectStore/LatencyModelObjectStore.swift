import Floe
import Synchronization

/// Wraps an object store so that every call takes as long as it would against a
/// remote object store: a fixed latency per request (time to first byte), then
/// the request's bytes at a bandwidth per request, with at most
/// `Model.maxConcurrentRequests` calls in flight (later calls queue in FIFO
/// order, as on a bounded connection pool). For benchmarks (`floe bench --store
/// s3sim`): it shows where a store on S3 spends its time without a network.
///
/// - The wrapped store does the work first, then the call sleeps for the rest of
///   the model's time, holding its slot; results and errors are the wrapped
///   store's, and a call that fails returns without the wait.
/// - A `list` counts one request per 1,000 keys returned, as S3's pages do, and a
///   batch `delete` one per 1,000 paths, as DeleteObjects takes them.
/// - `statistics` counts requests and bytes per operation, so a benchmark can
///   say how many requests a get or a scan cost.
/// - `Model.s3` is modelled on published figures, cited in docs/benchmarks.md.
public final class LatencyModelObjectStore: ObjectStore {
    /// How long a request takes.
    public struct Model: Sendable, Hashable {
        /// Time to first byte of a GET or HEAD (`get`, `size`).
        public var readLatencySeconds: Double
        /// Time of a PUT or DELETE before its body counts (`put`, `createIfAbsent`, `delete`).
        public var writeLatencySeconds: Double
        /// Time of a LIST page.
        public var listLatencySeconds: Double
        /// Transfer rate of one request's body, bytes per second.
        public var bytesPerSecond: Double
        /// Calls in flight at once; more wait.
        public var maxConcurrentRequests: Int

        public init(readLatencySeconds: Double, writeLatencySeconds: Double, listLatencySeconds: Double,
                    bytesPerSecond: Double, maxConcurrentRequests: Int) {
            self.readLatencySeconds = readLatencySeconds
            self.writeLatencySeconds = writeLatencySeconds
            self.listLatencySeconds = listLatencySeconds
            self.bytesPerSecond = bytesPerSecond
            self.maxConcurrentRequests = maxConcurrentRequests
        }

        /// S3 Standard from a machine in the same region: small GETs in the tens of
        /// milliseconds, a single request's body at about 80 MB/s, a pool of 64
        /// connections (docs/benchmarks.md gives the sources).
        public static let s3 = Model(readLatencySeconds: 0.020, writeLatencySeconds: 0.030, listLatencySeconds: 0.040,
                                     bytesPerSecond: 80_000_000, maxConcurrentRequests: 64)

        /// The modelled duration of `requests` sequential requests of `op` moving
        /// `bytes` bytes in all.
        public func seconds(_ op: ObjectOperation, requests: Int = 1, bytes: Int) -> Double {
            let latency = switch op {
            case .get, .size: readLatencySeconds
            case .put, .createIfAbsent, .delete: writeLatencySeconds
            case .list: listLatencySeconds
            }
            return latency * Double(requests) + Double(bytes) / bytesPerSecond
        }
    }

    /// Requests and bytes so far.
    public struct Statistics: Sendable, Hashable {
        /// Requests per operation.
        public var requests: [ObjectOperation: Int] = [:]
        /// Bytes returned by `get`.
        public var bytesRead = 0
        /// Bytes sent by `put` and `createIfAbsent`.
        public var bytesWritten = 0
        /// Total modelled request time, seconds (overlapping requests each count).
        public var modelledSeconds = 0.0

        /// Requests of `op`.
        public subscript(_ op: ObjectOperation) -> Int { requests[op] ?? 0 }
    }

    /// The wrapped store.
    public let inner: any ObjectStore
    /// The model every call follows.
    public let model: Model
    private let slots: AsyncSemaphore
    private let stats = Lock(Statistics())

    /// - Throws: `FloeError.invalidArgument` for a non-positive bandwidth or pool,
    ///   or a negative latency.
    public init(wrapping inner: any ObjectStore, model: Model = .s3) throws {
        guard model.bytesPerSecond > 0, model.maxConcurrentRequests >= 1 else {
            throw FloeError.invalidArgument("latency model needs a positive bandwidth and at least one request in flight")
        }
        guard model.readLatencySeconds >= 0, model.writeLatencySeconds >= 0, model.listLatencySeconds >= 0 else {
            throw FloeError.invalidArgument("latency model latencies must not be negative")
        }
        self.inner = inner
        self.model = model
        self.slots = AsyncSemaphore(permits: model.maxConcurrentRequests)
    }

    public var statistics: Statistics { stats.withLock { $0 } }

    /// Runs `body` in a slot, then waits out the model's time for `bytes(result)`
    /// bytes over `requests(result)` requests. A call that throws returns at once.
    private func request<T: Sendable>(_ op: ObjectOperation, requests: (T) -> Int = { _ in 1 }, bytes: (T) -> Int,
                                      _ body: () async throws -> T) async throws -> T {
        try await slots.withPermit {
            let started = ContinuousClock.now
            let result = try await body()
            let n = bytes(result), count = requests(result)
            let seconds = model.seconds(op, requests: count, bytes: n)
            stats.withLock { s in
                s.requests[op, default: 0] += count
                s.modelledSeconds += seconds
                if op == .get { s.bytesRead += n }
            }
            let remaining = Duration.seconds(seconds) - (ContinuousClock.now - started)
            if remaining > .zero { try await Task.sleep(for: remaining) }
            return result
        }
    }

    public func put(_ path: String, _ bytes: [UInt8]) async throws {
        stats.withLock { $0.bytesWritten += bytes.count }
        try await request(.put, bytes: { _ in bytes.count }) { try await inner.put(path, bytes) }
    }

    public func createIfAbsent(_ path: String, _ bytes: [UInt8]) async throws -> Bool {
        stats.withLock { $0.bytesWritten += bytes.count }
        return try await request(.createIfAbsent, bytes: { _ in bytes.count }) { try await inner.createIfAbsent(path, bytes) }
    }

    public func get(_ path: String) async throws -> [UInt8] {
        try await request(.get, bytes: { $0.count }) { try await inner.get(path) }
    }

    public func get(_ path: String, range: Range<Int>) async throws -> [UInt8] {
        try await request(.get, bytes: { $0.count }) { try await inner.get(path, range: range) }
    }

    public func size(_ path: String) async throws -> Int {
        try await request(.size, bytes: { _ in 0 }) { try await inner.size(path) }
    }

    public func delete(_ path: String) async throws {
        try await request(.delete, bytes: { _ in 0 }) { try await inner.delete(path) }
    }

    /// One `.delete` request per 1,000 paths, as DeleteObjects takes them, each a
    /// round trip; the inner store gets the whole batch. An empty batch is free.
    public func delete(_ paths: [String]) async throws {
        guard !paths.isEmpty else { return }
        let chunks = (paths.count + 999) / 1000
        try await request(.delete, requests: { _ in chunks }, bytes: { _ in 0 }) { try await inner.delete(paths) }
    }

    public func list(prefix: String) async throws -> [ObjectInfo] {
        // ListObjectsV2 returns at most 1,000 keys a page, one request each.
        try await request(.list, requests: { max(1, ($0.count + 999) / 1000) }, bytes: { _ in 0 }) {
            try await inner.list(prefix: prefix)
        }
    }
}
