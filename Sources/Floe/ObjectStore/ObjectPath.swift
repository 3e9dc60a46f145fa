/// The rules every object path and list prefix obeys, shared by all object
/// stores so a path accepted by the in-memory store is accepted on disk too.
///
/// A valid object path is relative and slash-separated (`data/0000000000000001.sst`):
/// not empty, no leading `/`, no empty, `.` or `..` component, no NUL byte, and
/// its last component does not end in `.tmp` (that suffix is reserved for the
/// local store's in-flight temp files, which listings skip).
package enum ObjectPath {
    /// Suffix of in-flight temp files; objects may not use it.
    package static let tempSuffix = ".tmp"

    /// Throws `FloeError.invalidArgument` unless `path` names an object.
    package static func validate(_ path: String) throws {
        if path.isEmpty { throw FloeError.invalidArgument("object path is empty") }
        if path.utf8.contains(0) { throw FloeError.invalidArgument("object path contains NUL: \(path.debugDescription)") }
        if path.hasPrefix("/") { throw FloeError.invalidArgument("object path is absolute: \(path)") }
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            if component.isEmpty || component == "." || component == ".." {
                throw FloeError.invalidArgument("object path has an empty, '.' or '..' component: \(path)")
            }
        }
        if path.hasSuffix(tempSuffix) {
            throw FloeError.invalidArgument("object path may not end in \(tempSuffix) (reserved for temp files): \(path)")
        }
    }

    /// Whether `path` names an SST (`data/<name>.sst`): an object written once,
    /// never modified, and deleted only by object GC (docs/format.md §2.5). The
    /// disk cache keeps ranges of these objects only.
    package static func isSst(_ path: String) -> Bool {
        path.hasPrefix("data/") && path.hasSuffix(".sst") && !path.dropFirst(5).contains("/")
    }

    /// Throws `FloeError.invalidArgument` unless `prefix` is a usable list prefix:
    /// empty, or relative with no NUL and no `..` component. A trailing partial
    /// component (`manifest/000`) is allowed.
    package static func validatePrefix(_ prefix: String) throws {
        if prefix.utf8.contains(0) { throw FloeError.invalidArgument("list prefix contains NUL: \(prefix.debugDescription)") }
        if prefix.hasPrefix("/") { throw FloeError.invalidArgument("list prefix is absolute: \(prefix)") }
        if prefix.split(separator: "/", omittingEmptySubsequences: false).contains("..") {
            throw FloeError.invalidArgument("list prefix has a '..' component: \(prefix)")
        }
    }

    /// Throws `FloeError.invalidArgument` unless `range` starts at a non-negative offset.
    package static func validate(_ range: Range<Int>, of path: String) throws {
        if range.lowerBound < 0 {
            throw FloeError.invalidArgument("negative range \(range) for \(path)")
        }
    }
}
