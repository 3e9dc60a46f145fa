import Synchronization

/// An object store held in memory, for tests. Same semantics and errors as
/// `LocalObjectStore` (including path validation), without durability: the
/// objects live as long as the instance.
///
/// Tests simulate a restart by building a new store from `snapshot()`, and
/// corruption by editing the snapshot's bytes first.
public final class MemoryObjectStore: ObjectStore {
    private struct Object {
        var bytes: [UInt8]
        var modified: Double
    }

    private let objects: Lock<[String: Object]>

    /// A store holding `objects` (path to bytes), all stamped with the current time.
    /// Paths are taken as given, so a test may plant objects a writer could not.
    public init(objects: [String: [UInt8]] = [:]) {
        let now = PosixFileSystem.wallClockSeconds()
        self.objects = Lock(objects.mapValues { Object(bytes: $0, modified: now) })
    }

    /// A copy of every object, path to bytes.
    public func snapshot() -> [String: [UInt8]] {
        objects.withLock { $0.mapValues(\.bytes) }
    }

    /// Writes (or replaces) the object.
    /// - Throws: `FloeError.invalidArgument` for a bad path.
    public func put(_ path: String, _ bytes: [UInt8]) async throws {
        try ObjectPath.validate(path)
        let object = Object(bytes: bytes, modified: PosixFileSystem.wallClockSeconds())
        objects.withLock { $0[path] = object }
    }

    /// Creates the object only if `path` is free; atomic under the store's lock.
    /// - Returns: `true` if this call created it.
    /// - Throws: `FloeError.invalidArgument` for a bad path.
    public func createIfAbsent(_ path: String, _ bytes: [UInt8]) async throws -> Bool {
        try ObjectPath.validate(path)
        let object = Object(bytes: bytes, modified: PosixFileSystem.wallClockSeconds())
        return objects.withLock { objects in
            if objects[path] != nil { return false }
            objects[path] = object
            return true
        }
    }

    /// Reads the whole object.
    /// - Throws: `FloeError.objectNotFound(path)` if missing.
    public func get(_ path: String) async throws -> [UInt8] {
        try ObjectPath.validate(path)
        return try bytes(of: path)
    }

    /// Reads `range` of the object.
    /// - Throws: `FloeError.corruption` (offset `range.lowerBound`) if `range` ends past
    ///   the object's end, `FloeError.objectNotFound(path)` if missing,
    ///   `FloeError.invalidArgument` for a negative range.
    public func get(_ path: String, range: Range<Int>) async throws -> [UInt8] {
        try ObjectPath.validate(path)
        try ObjectPath.validate(range, of: path)
        // Copy-on-write: the array is shared, not copied, under the lock.
        let bytes = try bytes(of: path)
        if range.upperBound > bytes.count {
            throw FloeError.corruption(object: path, offset: range.lowerBound,
                                       reason: "object is \(bytes.count) bytes, range \(range.lowerBound)..<\(range.upperBound) runs past its end")
        }
        return Array(bytes[range])
    }

    /// Size in bytes of the object.
    /// - Throws: `FloeError.objectNotFound(path)` if missing.
    public func size(_ path: String) async throws -> Int {
        try ObjectPath.validate(path)
        return try bytes(of: path).count
    }

    /// Deletes the object; a missing object is not an error.
    public func delete(_ path: String) async throws {
        try ObjectPath.validate(path)
        let removed = objects.withLock { $0.removeValue(forKey: path) }
        _ = removed // freed outside the lock
    }

    /// Every object whose path starts with `prefix`, sorted by path.
    /// - Throws: `FloeError.invalidArgument` for a bad prefix.
    public func list(prefix: String) async throws -> [ObjectInfo] {
        try ObjectPath.validatePrefix(prefix)
        let found = objects.withLock { objects in
            objects.compactMap { path, object in
                path.hasPrefix(prefix) ? ObjectInfo(path: path, size: object.bytes.count, modified: object.modified) : nil
            }
        }
        return found.sorted { $0.path < $1.path }
    }

    private func bytes(of path: String) throws -> [UInt8] {
        guard let bytes = objects.withLock({ $0[path]?.bytes }) else { throw FloeError.objectNotFound(path) }
        return bytes
    }
}
