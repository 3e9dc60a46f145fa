import Synchronization

/// Registry of epochs pinned by live snapshots. The minimum pinned epoch bounds
/// the compaction watermark; pinned epochs stay readable below the retention window.
final class PinRegistry: Sendable {
    private let pins = Mutex<(next: UInt64, epochs: [UInt64: Epoch])>((0, [:]))

    func pin(_ epoch: Epoch) -> UInt64 {
        pins.withLock { s in
            s.next += 1
            s.epochs[s.next] = epoch
            return s.next
        }
    }

    func release(_ id: UInt64) {
        _ = pins.withLock { $0.epochs.removeValue(forKey: id) }
    }

    var minimum: Epoch? { pins.withLock { $0.epochs.values.min() } }
    var count: Int { pins.withLock { $0.epochs.count } }

    func isPinned(_ epoch: Epoch) -> Bool { pins.withLock { $0.epochs.values.contains(epoch) } }
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
        id = registry.pin(epoch)
    }

    func release() {
        if !released.exchange(true, ordering: .acquiringAndReleasing) { registry.release(id) }
    }

    deinit { release() }
}
