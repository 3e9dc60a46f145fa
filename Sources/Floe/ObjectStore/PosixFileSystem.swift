#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The real file system: each method is one POSIX call (opendir + readdir for
/// `directoryEntries`), retried on `EINTR`, with `errno` turned into a
/// `FileSystemError`. Stateless, so the existential a store holds is allocation-free.
package struct PosixFileSystem: FileSystem {
    package init() {}

    package func open(_ path: String, _ mode: FileOpenMode) throws(FileSystemError) -> Int32 {
        let flags: Int32
        switch mode {
        case .read: flags = O_RDONLY
        case .createExclusive: flags = O_WRONLY | O_CREAT | O_EXCL
        case .directory: flags = O_RDONLY | O_DIRECTORY
        }
        while true {
            let fd = systemOpen(path, flags | O_CLOEXEC, 0o644)
            if fd >= 0 { return fd }
            let code = errno
            if code != EINTR { throw FileSystemError("open", code) }
        }
    }

    package func close(_ fd: Int32) throws(FileSystemError) {
        // Not retried on EINTR: Linux releases the descriptor even then, and a
        // retry could close a descriptor another thread just opened.
        if systemClose(fd) != 0 { throw FileSystemError("close", errno) }
    }

    package func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(FileSystemError) -> Int {
        while true {
            let n = systemWrite(fd, bytes.baseAddress, bytes.count)
            if n >= 0 { return n }
            let code = errno
            if code != EINTR { throw FileSystemError("write", code) }
        }
    }

    package func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int) throws(FileSystemError) -> Int {
        while true {
            let n = systemPread(fd, buffer.baseAddress, buffer.count, off_t(offset))
            if n >= 0 { return n }
            let code = errno
            if code != EINTR { throw FileSystemError("pread", code) }
        }
    }

    package func touch(_ fd: Int32) throws(FileSystemError) {
        if futimens(fd, nil) != 0 { throw FileSystemError("futimens", errno) }
    }

    package func fsync(_ fd: Int32) throws(FileSystemError) {
        while true {
            if systemFsync(fd) == 0 { return }
            let code = errno
            // Only EINTR is retried: after a real fsync failure the page cache
            // may have dropped the dirty pages, so a retry could falsely succeed.
            if code != EINTR { throw FileSystemError("fsync", code) }
        }
    }

    package func status(_ fd: Int32) throws(FileSystemError) -> FileStatus {
        var st = stat()
        if fstat(fd, &st) != 0 { throw FileSystemError("fstat", errno) }
        return Self.status(st)
    }

    package func status(atPath path: String, followSymlinks: Bool) throws(FileSystemError) -> FileStatus {
        var st = stat()
        if followSymlinks {
            if stat(path, &st) != 0 { throw FileSystemError("stat", errno) }
        } else {
            if lstat(path, &st) != 0 { throw FileSystemError("lstat", errno) }
        }
        return Self.status(st)
    }

    package func rename(_ from: String, _ to: String) throws(FileSystemError) {
        if systemRename(from, to) != 0 { throw FileSystemError("rename", errno) }
    }

    package func link(_ from: String, _ to: String) throws(FileSystemError) {
        if systemLink(from, to) != 0 { throw FileSystemError("link", errno) }
    }

    package func unlink(_ path: String) throws(FileSystemError) {
        if systemUnlink(path) != 0 { throw FileSystemError("unlink", errno) }
    }

    package func makeDirectory(_ path: String) throws(FileSystemError) {
        if mkdir(path, 0o755) != 0 { throw FileSystemError("mkdir", errno) }
    }

    package func directoryEntries(_ path: String) throws(FileSystemError) -> [String] {
        guard let dir = opendir(path) else { throw FileSystemError("opendir", errno) }
        defer { _ = closedir(dir) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                let code = errno
                if code != 0 { throw FileSystemError("readdir", code) }
                return names
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
    }

    package func canonicalPath(_ path: String) throws(FileSystemError) -> String {
        guard let resolved = realpath(path, nil) else { throw FileSystemError("realpath", errno) }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Wall-clock time in seconds since 1970 (what file mtimes are measured in).
    package static func wallClockSeconds() -> Double {
        var ts = timespec()
        _ = clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    private static func status(_ st: stat) -> FileStatus {
        let kind: FileStatus.Kind
        switch st.st_mode & S_IFMT {
        case S_IFREG: kind = .regularFile
        case S_IFDIR: kind = .directory
        default: kind = .other
        }
        #if canImport(Glibc)
        let modified = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
        #else
        let modified = Double(st.st_mtimespec.tv_sec) + Double(st.st_mtimespec.tv_nsec) / 1e9
        #endif
        return FileStatus(kind: kind, size: Int(st.st_size), modified: modified)
    }
}

// The C calls under other names: inside `PosixFileSystem` the methods of the same
// name would shadow them.
private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
private func systemClose(_ fd: Int32) -> Int32 { close(fd) }
private func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer?, _ n: Int) -> Int { write(fd, p, n) }
private func systemPread(_ fd: Int32, _ p: UnsafeMutableRawPointer?, _ n: Int, _ off: off_t) -> Int { pread(fd, p, n, off) }
private func systemFsync(_ fd: Int32) -> Int32 { fsync(fd) }
private func systemRename(_ from: String, _ to: String) -> Int32 { rename(from, to) }
private func systemLink(_ from: String, _ to: String) -> Int32 { link(from, to) }
private func systemUnlink(_ path: String) -> Int32 { unlink(path) }
