#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A 64-bit counter in a shared file mapping: the crash-test worker bumps it
/// once per operation (a plain store, no system call) and the parent reads the
/// file after the worker was killed, since a SIGKILL does not lose the pages of
/// a shared mapping. That number is what `--kill-after-ops` replays.
final class SharedCounter {
    private let slot: UnsafeMutableRawPointer
    private let fd: Int32

    /// Maps the 8 bytes of `path`, creating it zeroed.
    init(path: String) throws {
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CrashtestError("open \(path): \(String(cString: strerror(errno)))") }
        guard ftruncate(fd, 8) == 0, let p = mmap(nil, 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw CrashtestError("mapping \(path): \(why)")
        }
        slot = p
    }

    deinit {
        munmap(slot, 8)
        close(fd)
    }

    var value: UInt64 {
        get { slot.load(as: UInt64.self) }
        set { slot.storeBytes(of: newValue, as: UInt64.self) }
    }

    /// The counter in the file at `path` (as the dead worker left it), or nil if it cannot be read.
    static func read(path: String) -> UInt64? {
        guard let bytes = try? FileBytes.contents(of: path), bytes.count == 8 else { return nil }
        return bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }
}
