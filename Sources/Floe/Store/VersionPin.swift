import Synchronization

/// Registry of epochs pinned by live snapshots. The minimum pinned epoch bounds
/// the compaction watermark; pinned epochs stay readable below the retention window.
/// Pinned versions also keep their SSTs safe from object GC.
final class PinRegistry: Sendable {
    private let pins = Lock<(next: UInt64, entries: [UInt64: (epoch: Epoch, version: Version)])>((0, [:]))

    func pin(_ epoch: Epoch, _ version: Version) -> UInt64 {
        pins.withLock { s in
            s.next += 1
            s.entries[s.next] = (epoch, version)
            return s.next
        }
    }

    func release(_ id: UInt64) {
        _ = pins.withLock { $0.entries.removeValue(forKey: id) }
    }

    var minimum: Epoch? { pins.withLock { $0.entries.values.map(\.epoch).min() } }
    var count: Int { pins.withLock { $0.entries.count } }

    func isPinned(_ epoch: Epoch) -> Bool { pins.withLock { $0.entries.values.contains { $0.epoch == epoch } } }

    /// Ids of every SST a pinned version references.
    func referencedSsts() -> Set<UInt64> {
        let versions = pins.withLock { s in
            var seen = Set<ObjectIdentifier>()
            return s.entries.values.map(\.version).filter { seen.insert(ObjectIdentifier($0)).inserted }
        }
        var ids = Set<UInt64>()
        for v in versions { for f in v.allSsts { ids.insert(f.id) } }
        return ids
    }
}

/// Holds a version and an epoch pinned until released (or deinitialised).
final class VersionPin: Sendable {
    let version: Version
    let epoch: Epoch
    private let id: UInt64
    private let registry: PinRegistry
    private let released = Atomic<Bool>(false)

    init(version: Version, epoch: Epoch, registry: PinRegistry) {
        self.version = version
        self.epoch = epoch
        self.registry = registry
        id = registry.pin(epoch, version)
    }

    /// A new pin of the same version and epoch, released on its own: what a scan
    /// made from a snapshot holds, so releasing the snapshot does not unpin the scan.
    func duplicate() -> VersionPin {
        VersionPin(version: version, epoch: epoch, registry: registry)
    }

    func release() {
        if !released.exchange(true, ordering: .acquiringAndReleasing) { registry.release(id) }
    }

    deinit { release() }
}
