#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Floe

/// Reads and writes whole local files (CSV input and output), outside any
/// object store. Errors are `FloeError.io(path:reason:)` naming the file and
/// the failed call.
public enum LocalFile {
    /// The bytes of the regular file at `path`.
    public static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(path, "open") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw failure(path, "fstat") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw FloeError.io(path: path, reason: "not a regular file") }
        var out: [UInt8] = []
        out.reserveCapacity(Int(st.st_size))
        var block = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = block.withUnsafeMutableBytes { posixRead(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(path, "read")
            }
            if n == 0 { return out }
            out.append(contentsOf: block[0..<n])
        }
    }

    /// Writes `bytes` to `path`, creating or truncating it (mode 0644).
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let w = try LocalFileWriter(path: path)
        try w.write(bytes)
        try w.close()
    }

    static func failure(_ path: String, _ call: String) -> FloeError {
        .io(path: path, reason: "\(call): \(String(cString: strerror(errno)))")
    }
}

/// `read(2)`, named apart from `LocalFile.read`.
private func posixRead(_ fd: Int32, _ p: UnsafeMutableRawPointer?, _ n: Int) -> Int { read(fd, p, n) }
