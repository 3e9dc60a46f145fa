#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Floe

/// Writes a local file in pieces (a generated CSV of many events): created or
/// truncated on open, closed by `close()` (or, without reporting errors, when
/// released). Used by one task at a time; not `Sendable`. Errors are
/// `FloeError.io(path:reason:)`.
public final class LocalFileWriter {
    public let path: String
    private var fd: Int32

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LocalFile.failure(path, "open") }
    }

    /// Appends `bytes` to the file.
    public func write(_ bytes: [UInt8]) throws {
        guard fd >= 0 else { throw FloeError.io(path: path, reason: "write: the file is closed") }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { posixWrite(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw LocalFile.failure(path, "write")
            }
            done += n
        }
    }

    /// Closes the file (reporting a deferred write error).
    public func close() throws {
        guard fd >= 0 else { return }
        let r = posixClose(fd)
        fd = -1
        if r != 0 { throw LocalFile.failure(path, "close") }
    }

    deinit {
        if fd >= 0 { _ = posixClose(fd) }
    }
}

/// `write(2)` and `close(2)`, named apart from the writer's methods.
private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer?, _ n: Int) -> Int { write(fd, p, n) }
private func posixClose(_ fd: Int32) -> Int32 { close(fd) }
