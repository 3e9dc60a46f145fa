import Synchronization

/// A bounded LRU of read-only file descriptors keyed by file system path, so
/// repeated ranged reads of one SST do not reopen the file.
///
/// Lifetime: descriptors live in reference-counted `OpenFile` boxes that close
/// on deinit. Eviction only drops the cache's reference, so a reader that got
/// a box keeps a valid descriptor until its read ends, however the cache churns.
///
/// Staleness: a writer that replaces or deletes a file calls `invalidate` after
/// the rename/unlink. A reader that opened a file concurrently with such a
/// change may read the old file once, but never caches it: an insert is dropped
/// when any invalidation happened since the lookup that missed.
final class FileDescriptorCache: Sendable {
    /// An open read-only descriptor, closed when the last reference goes away.
    final class OpenFile: Sendable {
        let fd: Int32
        private let fileSystem: any FileSystem
        init(fd: Int32, fileSystem: any FileSystem) {
            self.fd = fd
            self.fileSystem = fileSystem
        }
        deinit { try? fileSystem.close(fd) }
    }

    private struct Entry {
        var file: OpenFile
        var lastUse: UInt64
    }

    private struct State {
        var entries: [String: Entry] = [:]
        /// Logical clock for LRU order.
        var tick: UInt64 = 0
        /// Bumped by every `invalidate`; see the type's staleness note.
        var invalidations: UInt64 = 0
    }

    /// Maximum number of cached descriptors.
    let capacity: Int
    /// Where the descriptors live; `OpenFile` closes through it.
    private let fileSystem: any FileSystem
    private let state = Lock(State())

    init(capacity: Int, fileSystem: any FileSystem) {
        precondition(capacity > 0, "descriptor cache capacity must be positive")
        self.capacity = capacity
        self.fileSystem = fileSystem
    }

    /// The cached descriptor for `path`, or a new one from `open` (which
    /// returns a descriptor or throws). Errors from `open` propagate.
    func file(for path: String, open: (String) throws -> Int32) throws -> OpenFile {
        let (hit, generation) = state.withLock { s -> (OpenFile?, UInt64) in
            s.tick += 1
            guard let i = s.entries.index(forKey: path) else { return (nil, s.invalidations) }
            s.entries.values[i].lastUse = s.tick
            return (s.entries.values[i].file, s.invalidations)
        }
        if let hit { return hit }

        // Open outside the lock: the syscall may block on slow storage.
        let file = OpenFile(fd: try open(path), fileSystem: fileSystem)
        let evicted = state.withLock { s -> OpenFile? in
            // Another reader may have cached the same file meanwhile; keep
            // theirs and use ours once.
            guard s.invalidations == generation, s.entries[path] == nil else { return nil }
            var victim: OpenFile?
            if s.entries.count >= capacity {
                // A linear scan is fine at this size: it runs only on a miss,
                // which already paid for an open(2).
                if let oldest = s.entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
                    victim = s.entries.removeValue(forKey: oldest)?.file
                }
            }
            s.tick += 1
            s.entries[path] = Entry(file: file, lastUse: s.tick)
            return victim
        }
        // Drop the victim outside the lock so its close(2) never runs under it.
        _ = evicted
        return file
    }

    /// Forgets the descriptor for `path` after the file was replaced or removed.
    func invalidate(_ path: String) {
        let removed = state.withLock { s -> OpenFile? in
            s.invalidations += 1
            return s.entries.removeValue(forKey: path)?.file
        }
        _ = removed
    }

    /// Number of cached descriptors (for tests).
    var count: Int { state.withLock { $0.entries.count } }
}
