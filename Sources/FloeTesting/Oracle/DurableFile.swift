#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Durable writes of a local file for the crash-test oracle: appends that are
/// on disk when `append` returns, and whole-file replacement by rename.
/// Every failure is a `CrashtestError` naming the path and the system error.
///
/// Not thread-safe: one owner appends (the worker process that writes its oracle).
package final class DurableFile {
    /// The file appended to.
    package let path: String
    private let fd: Int32

    /// Opens `path` for appending (it must exist).
    package init(appendingTo path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw Self.failure("open", path) }
    }

    deinit { close(fd) }

    /// Appends `bytes` and fsyncs the file.
    package func append(_ bytes: [UInt8]) throws {
        try Self.writeAll(fd, bytes, path)
        guard fsync(fd) == 0 else { throw Self.failure("fsync", path) }
    }

    /// Replaces `path` with `bytes` atomically: a temp file is written and fsynced,
    /// renamed over `path`, and the directory is fsynced.
    package static func replace(_ path: String, with bytes: [UInt8]) throws {
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("open", temp) }
        do {
            try writeAll(fd, bytes, temp)
            guard fsync(fd) == 0 else { throw failure("fsync", temp) }
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        guard rename(temp, path) == 0 else { throw failure("rename", path) }
        try syncDirectory(of: path)
    }

    /// Fsyncs the directory holding `path`, so a rename or create in it is durable.
    package static func syncDirectory(of path: String) throws {
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let fd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("open", dir) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw failure("fsync", dir) }
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], _ path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("write", path)
            }
            done += n
        }
    }

    private static func failure(_ call: String, _ path: String) -> CrashtestError {
        CrashtestError("\(call) \(path): \(String(cString: strerror(errno)))")
    }
}
