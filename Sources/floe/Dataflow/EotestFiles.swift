#if canImport(Glibc)
import Glibc
#endif

/// The working directory of `floe eotest`: `WORK/input-G` per input group (log and
/// reference) and `WORK/schedule-I` per schedule (store, sinks, the children's
/// stderr); a schedule's directory is removed once it passed, unless `--keep`.
enum EotestFiles {
    /// Creates `path` and its missing parents. Throws `EotestError` naming the call.
    static func makeDirectory(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw EotestError("mkdir \(prefix): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Removes a file or a directory tree; nothing when absent.
    static func remove(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR { try? removeTree(path) } else { unlink(path) }
    }

    /// A new directory under the system's temporary directory.
    static func temporaryDirectory() throws -> String {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array((base + "/floe-eotest-XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw EotestError("mkdtemp in \(base): \(String(cString: strerror(errno)))")
        }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `path` made absolute (for the paths printed in reports); unchanged when it cannot be resolved.
    static func absolute(_ path: String) -> String {
        guard let p = realpath(path, nil) else { return path }
        defer { free(p) }
        return String(cString: p)
    }

    /// The last `maxLines` non-empty lines of a child's stderr file, indented, for a report.
    static func stderrTail(_ path: String, maxLines: Int = 6) -> String {
        let text = (try? FileBytes.contents(of: path)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let lines = text.split(separator: "\n").suffix(maxLines)
        return lines.map { "      " + $0 }.joined(separator: "\n")
    }
}
