#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The file-system calls `LocalObjectStore` makes, one method per POSIX call,
/// so the store can run on the real file system (`PosixFileSystem`) or on a
/// simulated one that loses unsynced state at a power cut (FloeTesting's `PowerLossFileSystem`).
///
/// Semantics follow POSIX: the store passes absolute paths (a relative root
/// given to its initializer is resolved by `canonicalPath`); descriptors are
/// small integers that stay valid until `close`, also after the file's name is
/// unlinked or replaced; `rename` atomically replaces a file; `link` fails with
/// `EEXIST` rather than replace; a file's data is durable after `fsync` of the
/// file, and a change to a directory's entries (create, rename, link, unlink,
/// mkdir) only after `fsync` of a descriptor of that directory.
///
/// Errors: every failure is a `FileSystemError` naming the POSIX call and its
/// `errno`; implementations retry `EINTR` themselves. Short reads and writes are
/// not errors: `write` and `pread` return the byte count (see `writeAll` and
/// `preadFully`).
package protocol FileSystem: Sendable {
    /// Opens `path`. `.read` opens a file or directory read-only; `.createExclusive`
    /// creates a new, empty file for writing (`EEXIST` if the name is taken,
    /// `ENOENT` if the parent directory is missing); `.directory` opens a directory
    /// (`ENOTDIR` otherwise) for `fsync`. Returns the descriptor.
    func open(_ path: String, _ mode: FileOpenMode) throws(FileSystemError) -> Int32
    /// Closes the descriptor. A failure may report a deferred write error.
    func close(_ fd: Int32) throws(FileSystemError)
    /// Writes up to `bytes.count` bytes at the descriptor's offset and advances it.
    /// Returns the number written (at least 1 for a non-empty buffer).
    func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(FileSystemError) -> Int
    /// Reads up to `buffer.count` bytes at `offset`. Returns the number read; 0 at end of file.
    func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int) throws(FileSystemError) -> Int
    /// Makes the file's data (or, for a directory, its entries) durable.
    func fsync(_ fd: Int32) throws(FileSystemError)
    /// Kind, size and modification time of the open file (`fstat`).
    func status(_ fd: Int32) throws(FileSystemError) -> FileStatus
    /// Kind, size and modification time of `path` (`stat`, or `lstat` when
    /// `followSymlinks` is false).
    func status(atPath path: String, followSymlinks: Bool) throws(FileSystemError) -> FileStatus
    /// Atomically gives the file `from` the name `to`, replacing any file there.
    func rename(_ from: String, _ to: String) throws(FileSystemError)
    /// Adds the name `to` for the file `from`; `EEXIST` if `to` exists.
    func link(_ from: String, _ to: String) throws(FileSystemError)
    /// Removes the name `path` (`EISDIR`/`EPERM` for a directory).
    func unlink(_ path: String) throws(FileSystemError)
    /// Creates the directory `path` (`EEXIST` if the name is taken).
    func makeDirectory(_ path: String) throws(FileSystemError)
    /// Names in the directory, without `.` and `..`, in no particular order.
    func directoryEntries(_ path: String) throws(FileSystemError) -> [String]
    /// The absolute path of `path` with symlinks, `.` and `..` resolved (`realpath`).
    func canonicalPath(_ path: String) throws(FileSystemError) -> String
    /// Sets the open file's modification time to now (`futimens`): the disk cache
    /// marks a read entry so that its use order survives a restart.
    func touch(_ fd: Int32) throws(FileSystemError)
}

extension FileSystem {
    /// Does nothing: a file system without modification times to keep (the
    /// simulated ones of the tests) keeps the order files were written in.
    package func touch(_ fd: Int32) throws(FileSystemError) {}
}

/// How `FileSystem.open` opens a path.
package enum FileOpenMode: Sendable {
    /// Read-only, file or directory (`O_RDONLY`).
    case read
    /// A new file, write-only; fails if the name exists (`O_WRONLY|O_CREAT|O_EXCL`, mode 0644).
    case createExclusive
    /// A directory, read-only, to fsync it (`O_RDONLY|O_DIRECTORY`).
    case directory
}

/// What `stat` reports that the object store needs.
package struct FileStatus: Sendable, Equatable {
    package enum Kind: Sendable, Equatable { case regularFile, directory, other }
    package var kind: Kind
    package var size: Int
    /// Last modification, in seconds since 1970.
    package var modified: Double

    package init(kind: Kind, size: Int, modified: Double) {
        self.kind = kind
        self.size = size
        self.modified = modified
    }
}

/// A failed `FileSystem` call.
package struct FileSystemError: Error, Sendable, Equatable {
    /// The call as POSIX names it: `open`, `write`, `fsync`, `rename`, `readdir`...
    package var call: String
    /// The `errno` value.
    package var code: Int32
    /// Replaces `strerror(code)` in `reason` (a simulated power cut says so).
    package var detail: String?

    package init(_ call: String, _ code: Int32, detail: String? = nil) {
        self.call = call
        self.code = code
        self.detail = detail
    }

    /// `"<call>: <strerror or detail>"`, the reason `FloeError.io` carries.
    package var reason: String { "\(call): \(detail ?? String(cString: strerror(code)))" }
}

extension FileSystem {
    /// Writes all of `bytes` at the descriptor's offset, looping on short writes.
    package func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(FileSystemError) {
        // withUnsafeBytes rethrows untyped errors, so the typed one is carried out.
        var failure: FileSystemError?
        bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                do throws(FileSystemError) {
                    done += try write(fd, UnsafeRawBufferPointer(rebasing: raw[done...]))
                } catch {
                    failure = error
                    return
                }
            }
        }
        if let failure { throw failure }
    }

    /// Reads into `buffer` from `offset` until it is full or the file ends.
    /// Returns the number of bytes read: less than `buffer.count` only at end of file.
    package func preadFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int) throws(FileSystemError) -> Int {
        var done = 0
        while done < buffer.count {
            let n = try pread(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]), offset: offset + done)
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Makes the directory's entries (a create, rename, link or unlink in it) durable.
    package func fsyncDirectory(_ path: String) throws(FileSystemError) {
        let fd = try open(path, .directory)
        do {
            try fsync(fd)
        } catch {
            try? close(fd)
            throw error
        }
        try? close(fd)
    }

    /// `mkdir -p`: creates `path` and its missing ancestors. Each directory it
    /// creates is made durable by syncing its parent.
    package func makeDirectories(_ path: String) throws(FileSystemError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            let parent = current.isEmpty ? "/" : current
            current += "/" + component
            do {
                try makeDirectory(current)
                try fsyncDirectory(parent)
            } catch where error.code == EEXIST && error.call == "mkdir" {
                continue
            }
        }
    }
}
