#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin wrappers over the POSIX calls the local object store makes: they retry
/// `EINTR`, loop on short reads and writes, and turn `errno` into
/// `FloeError.io(path:reason:)` with the reason `"<syscall>: <strerror>"`.
enum PosixIO {
    /// The typed error for a failed system call; `code` is the `errno` it set.
    static func error(_ syscall: String, _ path: String, _ code: Int32) -> FloeError {
        .io(path: path, reason: "\(syscall): \(String(cString: strerror(code)))")
    }

    /// Opens `path` with `flags` (and `mode` when creating), retrying `EINTR`.
    /// Returns the descriptor, or -1 with `errno` set.
    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> Int32 {
        while true {
            #if canImport(Glibc)
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            #else
            let fd = Darwin.open(path, flags | O_CLOEXEC, mode)
            #endif
            if fd >= 0 || errno != EINTR { return fd }
        }
    }

    /// Writes all of `bytes` at the descriptor's current offset.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    let code = errno
                    if code == EINTR { continue }
                    throw error("write", path, code)
                }
                done += n
            }
        }
    }

    /// Reads into `buffer` from `offset` until it is full or the file ends.
    /// Returns the number of bytes read: less than `buffer.count` only at end of file.
    static func preadFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int, path: String) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw error("pread", path, code)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Flushes the file's data and metadata to stable storage.
    static func fsync(_ fd: Int32, path: String) throws {
        while true {
            #if canImport(Glibc)
            let rc = Glibc.fsync(fd)
            #else
            let rc = Darwin.fsync(fd)
            #endif
            if rc == 0 { return }
            let code = errno
            // Only EINTR is retried: after a real fsync failure the page cache
            // may have dropped the dirty pages, so a retry could falsely succeed.
            if code != EINTR { throw error("fsync", path, code) }
        }
    }

    /// Makes the directory's entries (a rename, link or new child) durable.
    static func fsyncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY)
        if fd < 0 { throw error("open", path, errno) }
        defer { _ = close(fd) }
        try fsync(fd, path: path)
    }

    /// Size in bytes of the open file.
    static func size(of fd: Int32, path: String) throws -> Int {
        var st = stat()
        if fstat(fd, &st) != 0 { throw error("fstat", path, errno) }
        return Int(st.st_size)
    }

    /// `mkdir -p`: creates `path` and its missing ancestors. Each directory it
    /// creates is made durable by syncing its parent, so a later object whose
    /// directory was synced cannot vanish with an unsynced ancestor.
    static func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            let parent = current.isEmpty ? "/" : current
            current += "/" + component
            if mkdir(current, 0o755) == 0 {
                try fsyncDirectory(parent)
            } else {
                let code = errno
                if code != EEXIST { throw error("mkdir", current, code) }
            }
        }
    }

    /// Whether `st` describes a directory / a regular file.
    static func isDirectory(_ st: stat) -> Bool { (st.st_mode & S_IFMT) == S_IFDIR }
    static func isRegularFile(_ st: stat) -> Bool { (st.st_mode & S_IFMT) == S_IFREG }

    /// Last-modification time of `st` in seconds since 1970.
    static func modifiedSeconds(_ st: stat) -> Double {
        #if canImport(Glibc)
        Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
        #else
        Double(st.st_mtimespec.tv_sec) + Double(st.st_mtimespec.tv_nsec) / 1e9
        #endif
    }

    /// Wall-clock time in seconds since 1970 (what file mtimes are measured in).
    static func wallClockSeconds() -> Double {
        var ts = timespec()
        _ = clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
