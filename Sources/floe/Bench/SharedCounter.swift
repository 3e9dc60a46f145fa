import FloeTesting
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// 64-bit words in a shared file mapping: the crash-test worker bumps its
/// operation counter once per operation (a plain store, no system call) and the
/// parent reads the file after the worker was killed, since a SIGKILL does not
/// lose the pages of a shared mapping. That number is what `--kill-after-ops`
/// replays. With more than one slot, the mapping is also a channel between the
/// harness and a running worker that both map it (`ZombieControl`): each word
/// has one writer, and a reader polls it.
final class SharedCounter {
    private let base: UnsafeMutableRawPointer
    private let fd: Int32
    /// Words in the mapping.
    let slots: Int

    /// Maps `slots` words of `path`. With `create`, the file is created or truncated
    /// to zeros; without it, it must exist with at least that size (another process
    /// created it and may have written to it).
    init(path: String, slots: Int = 1, create: Bool = true) throws {
        precondition(slots >= 1)
        self.slots = slots
        let bytes = slots * 8
        fd = open(path, create ? O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC : O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CrashtestError("open \(path): \(String(cString: strerror(errno)))") }
        var st = stat()
        if !create && (fstat(fd, &st) != 0 || Int(st.st_size) < bytes) {
            close(fd)
            throw CrashtestError("\(path) is not a shared mapping of \(slots) words")
        }
        guard !create || ftruncate(fd, off_t(bytes)) == 0,
              let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw CrashtestError("mapping \(path): \(why)")
        }
        base = p
    }

    deinit {
        munmap(base, slots * 8)
        close(fd)
    }

    /// Word 0 (the operation counter).
    var value: UInt64 {
        get { self[0] }
        set { self[0] = newValue }
    }

    subscript(slot: Int) -> UInt64 {
        get {
            precondition(slot >= 0 && slot < slots)
            return base.load(fromByteOffset: slot * 8, as: UInt64.self)
        }
        set {
            precondition(slot >= 0 && slot < slots)
            base.storeBytes(of: newValue, toByteOffset: slot * 8, as: UInt64.self)
        }
    }

    /// Word 0 of the file at `path` (as the dead worker left it), or nil if it cannot be read.
    static func read(path: String) -> UInt64? {
        guard let bytes = try? FileBytes.contents(of: path), bytes.count >= 8 else { return nil }
        return bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }
}
