/// Metadata of one stored object as returned by `ObjectStore.list(prefix:)`.
public struct ObjectInfo: Sendable, Hashable {
    public var path: String
    public var size: Int
    /// Last-modification time in seconds since 1970, used by GC grace periods.
    public var modified: Double
    public init(path: String, size: Int, modified: Double) {
        self.path = path; self.size = size; self.modified = modified
    }
}

/// The bottom layer: a flat namespace of immutable objects addressed by
/// slash-separated relative paths (`data/00000001.sst`).
///
/// Invariants every implementation keeps:
/// - an object is written whole or not at all: a reader never sees a prefix;
/// - once `put` or `createIfAbsent` returns, the object is durable;
/// - `createIfAbsent` is atomic: of concurrent callers for one path exactly one gets `true`;
///   one that gets `false` found an object that is durable too (the manifest relies
///   on this when it adopts a record whose acknowledgement was lost).
///
/// Errors: a missing object is `FloeError.objectNotFound`; other failures are
/// `FloeError.io` (or an injected error from a fault-injecting store).
public protocol ObjectStore: Sendable {
    /// Writes (or replaces) the whole object.
    func put(_ path: String, _ bytes: [UInt8]) async throws
    /// Writes the object only if no object exists at `path`. Returns `false` if one did.
    func createIfAbsent(_ path: String, _ bytes: [UInt8]) async throws -> Bool
    /// Reads the whole object.
    func get(_ path: String) async throws -> [UInt8]
    /// Reads `range` of the object. A range past the end is `FloeError.corruption`
    /// (the caller trusted a length that the object does not have).
    func get(_ path: String, range: Range<Int>) async throws -> [UInt8]
    /// Size in bytes of the object.
    func size(_ path: String) async throws -> Int
    /// Deletes the object. Deleting a missing object is not an error.
    func delete(_ path: String) async throws
    /// Deletes every object in `paths` (S3: DeleteObjects, up to 1,000 keys a
    /// request). A missing object is not an error; an empty list does nothing.
    ///
    /// Not atomic: if it throws, some of the objects may be gone and the rest
    /// not, and the error names one that failed. Deleting is idempotent, so a
    /// caller retries the whole list. A store that wraps another forwards the
    /// list as one call, so the batch reaches the store that can send it as one
    /// request (the default implementation deletes one object at a time).
    /// - Throws: `FloeError.invalidArgument` for a bad path; `FloeError.io` on failure.
    func delete(_ paths: [String]) async throws
    /// Every object whose path starts with `prefix`, sorted by path.
    func list(prefix: String) async throws -> [ObjectInfo]
}

extension ObjectStore {
    /// Deletes the objects one at a time with `delete(_:)`, in order, stopping at
    /// the first failure: for stores whose every delete is one request anyway.
    public func delete(_ paths: [String]) async throws {
        for path in paths { try await delete(path) }
    }
}
