import Synchronization
@testable import Floe

/// An object store in front of a `MemoryObjectStore` that counts the ranged reads
/// it serves, per path, as a remote store's request count: what the disk cache
/// tests measure the cache by.
final class RemoteReadCounter: ObjectStore {
    let inner: MemoryObjectStore
    private let rangedReads = Lock<[String: Int]>([:])

    init(_ inner: MemoryObjectStore = MemoryObjectStore()) { self.inner = inner }

    /// Ranged reads served so far, of every path, or of paths starting with `prefix`.
    func ranged(prefix: String = "") -> Int {
        rangedReads.withLock { $0.filter { $0.key.hasPrefix(prefix) }.values.reduce(0, +) }
    }

    func put(_ path: String, _ b: [UInt8]) async throws { try await inner.put(path, b) }
    func createIfAbsent(_ path: String, _ b: [UInt8]) async throws -> Bool { try await inner.createIfAbsent(path, b) }
    func get(_ path: String) async throws -> [UInt8] { try await inner.get(path) }
    func get(_ path: String, range: Range<Int>) async throws -> [UInt8] {
        rangedReads.withLock { $0[path, default: 0] += 1 }
        return try await inner.get(path, range: range)
    }
    func size(_ path: String) async throws -> Int { try await inner.size(path) }
    func delete(_ path: String) async throws { try await inner.delete(path) }
    func delete(_ paths: [String]) async throws { try await inner.delete(paths) }
    func list(prefix: String) async throws -> [ObjectInfo] { try await inner.list(prefix: prefix) }
}
