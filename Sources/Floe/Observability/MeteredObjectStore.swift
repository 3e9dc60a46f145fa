/// An object store that counts and times every call of the store it wraps
/// (`floe_object_store_*`, see `StoreMetrics`), and logs failed calls at trace.
/// Every store handle wraps its object store in one. A call is an I/O (a
/// syscall at least), so a counter and a clock read per call cost next to
/// nothing; cached reads never reach it.
struct MeteredObjectStore: ObjectStore {
    let base: any ObjectStore
    let metrics: ObjectStoreMetrics

    /// `store` wrapped, unless it is wrapped already.
    static func wrap(_ store: any ObjectStore, _ metrics: ObjectStoreMetrics) -> any ObjectStore {
        if store is MeteredObjectStore { return store }
        return MeteredObjectStore(base: store, metrics: metrics)
    }

    /// The wrapped store (for the local store's own maintenance calls).
    static func unwrap(_ store: any ObjectStore) -> any ObjectStore {
        (store as? MeteredObjectStore)?.base ?? store
    }

    @inline(__always)
    private func measure<T>(_ op: ObjectStoreMetrics.Op, _ body: () async throws -> T) async throws -> T {
        let t0 = ContinuousClock.now
        op.requests.increment()
        do {
            let r = try await body()
            op.seconds.recordNanoseconds((ContinuousClock.now - t0).nanoseconds)
            return r
        } catch {
            op.errors.increment()
            op.seconds.recordNanoseconds((ContinuousClock.now - t0).nanoseconds)
            throw error
        }
    }

    func put(_ path: String, _ bytes: [UInt8]) async throws {
        try await measure(metrics.put) { try await base.put(path, bytes) }
        metrics.writtenBytes.increment(by: bytes.count)
    }

    func createIfAbsent(_ path: String, _ bytes: [UInt8]) async throws -> Bool {
        let made = try await measure(metrics.createIfAbsent) { try await base.createIfAbsent(path, bytes) }
        if made { metrics.writtenBytes.increment(by: bytes.count) }
        return made
    }

    func get(_ path: String) async throws -> [UInt8] {
        let b = try await measure(metrics.get) { try await base.get(path) }
        metrics.readBytes.increment(by: b.count)
        return b
    }

    func get(_ path: String, range: Range<Int>) async throws -> [UInt8] {
        let b = try await measure(metrics.getRange) { try await base.get(path, range: range) }
        metrics.readBytes.increment(by: b.count)
        return b
    }

    func size(_ path: String) async throws -> Int {
        try await measure(metrics.size) { try await base.size(path) }
    }

    func delete(_ path: String) async throws {
        try await measure(metrics.delete) { try await base.delete(path) }
        metrics.deletedObjects.increment()
    }

    /// One `delete_batch` call however many paths (the base store splits it into
    /// requests as it must); `deletedObjects` counts its paths once it succeeded.
    func delete(_ paths: [String]) async throws {
        try await measure(metrics.deleteBatch) { try await base.delete(paths) }
        metrics.deletedObjects.increment(by: paths.count)
    }

    func list(prefix: String) async throws -> [ObjectInfo] {
        try await measure(metrics.list) { try await base.list(prefix: prefix) }
    }
}

extension Duration {
    /// Whole nanoseconds (saturating).
    var nanoseconds: Int64 {
        let c = components
        let (ns, over) = c.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return over ? .max : ns &+ c.attoseconds / 1_000_000_000
    }
}
