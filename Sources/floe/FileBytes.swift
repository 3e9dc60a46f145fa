#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads or writes a whole local file, for commands that take a file path
/// (`floe sst`, `floe stats --svg`).
enum FileBytes {
    struct FileError: Error, CustomStringConvertible {
        var description: String
    }

    /// The bytes of the file at `path`. Throws `FileError` naming the path and the system error.
    static func contents(of path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw failure("cannot open \(path)") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw failure("cannot stat \(path)") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw FileError(description: "\(path) is not a regular file") }
        var out = [UInt8](repeating: 0, count: Int(st.st_size))
        var done = 0
        while done < out.count {
            let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("cannot read \(path)")
            }
            if n == 0 { break }
            done += n
        }
        if done < out.count { out.removeLast(out.count - done) }
        return out
    }

    /// Writes `bytes` to `path`, creating or truncating it (mode 0644).
    /// Throws `FileError` naming the path and the system error.
    static func save(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw failure("cannot create \(path)") }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("cannot write \(path)")
            }
            done += n
        }
    }

    private static func failure(_ what: String) -> FileError {
        FileError(description: "\(what): \(String(cString: strerror(errno)))")
    }
}
