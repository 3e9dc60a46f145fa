import CCpuHints
#if canImport(Glibc)
import Glibc
#endif

/// The store's current version for point reads, readable without the store's
/// lock and without a retain of the version.
///
/// Why: every get used to take the store's one lock and retain and release the
/// current version, so two reader threads wrote the same two cache lines on
/// every get and spent more time handing them back and forth than reading
/// (a second thread made `readmissing` slower, not faster). Here the version is
/// kept in one stripe per CPU, each a lock of its own on its own cache lines; a
/// reader takes the stripe of the CPU it runs on and borrows the version while
/// it holds that lock, so two threads on two CPUs share nothing they write.
///
/// Invariant: every stripe holds the version `publish` was last called with;
/// `publish` is called under the store's lock, right where the store's own
/// `version` changes, so the two never disagree for longer than that call.
final class PublishedVersion: @unchecked Sendable {
    // @unchecked: each stripe's version is only read or written under that stripe's lock.
    private static let stride = 128  // two cache lines: adjacent-line prefetch pairs them
    private let base: UnsafeMutableRawPointer
    let stripes: Int

    init(_ v: Version, stripes: Int = PublishedVersion.cpuCount) {
        self.stripes = max(1, stripes)
        base = .allocate(byteCount: self.stripes * Self.stride, alignment: Self.stride)
        precondition(MemoryLayout<Lock<Version>>.size <= Self.stride)
        for i in 0..<self.stripes {
            (base + i * Self.stride).bindMemory(to: Lock<Version>.self, capacity: 1).initialize(to: Lock(v))
        }
    }

    deinit {
        for i in 0..<stripes { stripe(i).deinitialize(count: 1) }
        base.deallocate()
    }

    @inline(__always)
    private func stripe(_ i: Int) -> UnsafeMutablePointer<Lock<Version>> {
        (base + i * Self.stride).assumingMemoryBound(to: Lock<Version>.self)
    }

    /// Makes `v` the version every later `withCurrent` sees.
    func publish(_ v: Version) {
        for i in 0..<stripes { stripe(i).pointee.withLock { $0 = v } }
    }

    /// Runs `body` with the current version, borrowed: `body` must not keep it
    /// (return it to keep it: that retains) and must not block, publish or
    /// re-enter `withCurrent`.
    @inline(__always)
    func withCurrent<R: Sendable>(_ body: (Version) -> R) -> R {
        stripe(Self.currentCPU % stripes).pointee.withLock { v in body(v) }
    }

    /// Configured CPUs, asked once per process: glibc counts them by listing
    /// /sys/devices/system/cpu, which would cost every store open a directory walk.
    static let cpuCount: Int = {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_CONF))))
        #else
        return 1
        #endif
    }()

    /// The CPU the calling thread runs on (a vDSO call on Linux); 0 where unknown.
    @inline(__always)
    static var currentCPU: Int { Int(floe_current_cpu()) }
}
