#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A copy of a store directory made of hard links, kept in step with the store
/// at each `update`: what a harness (`floe crashtest`) saves before every iteration so a
/// failing iteration can be replayed from the very state it started from.
///
/// Hard links are enough because a local store never changes a file in place:
/// objects are written to a temp file and renamed or linked into place, and
/// deleted by unlink, so a linked copy keeps the old bytes. An update only
/// touches the names that changed (cost: two directory walks).
///
/// Errors: a failing system call throws `CrashtestError` naming it and the path.
public struct StoreMirror: Sendable {
    /// The store's directory.
    public let source: String
    /// The copy's directory, created on the first `update`.
    public let mirror: String

    public init(source: String, mirror: String) {
        self.source = source
        self.mirror = mirror
    }

    /// Makes `mirror` hold exactly the files of `source` (same inodes).
    public func update() throws {
        try Self.sync(from: source, to: mirror)
    }

    /// Makes `source` hold exactly the files of `mirror` again.
    public func restore() throws {
        try Self.sync(from: mirror, to: source)
    }

    private static func sync(from: String, to: String) throws {
        let want = try files(under: from)
        let have = try files(under: to)
        for (path, inode) in have where want[path] != inode {
            guard unlink(to + "/" + path) == 0 || errno == ENOENT else { throw failure("unlink", to + "/" + path) }
        }
        for (path, inode) in want.sorted(by: { $0.key < $1.key }) where have[path] != inode {
            let target = to + "/" + path
            try makeParents(of: target)
            guard link(from + "/" + path, target) == 0 else { throw failure("link", target) }
        }
    }

    /// Regular files under `root` (relative paths) with their inode numbers; a missing root is empty.
    package static func files(under root: String) throws -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        var pending = [""]
        while let relative = pending.popLast() {
            let dirPath = relative.isEmpty ? root : root + "/" + relative
            guard let dir = opendir(dirPath) else {
                if errno == ENOENT && relative.isEmpty { return [:] }
                throw failure("opendir", dirPath)
            }
            defer { closedir(dir) }
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name == "." || name == ".." { continue }
                let path = relative.isEmpty ? name : relative + "/" + name
                var st = stat()
                guard lstat(root + "/" + path, &st) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFDIR: pending.append(path)
                case S_IFREG: out[path] = UInt64(st.st_ino)
                default: break
                }
            }
        }
        return out
    }

    private static func makeParents(of path: String) throws {
        var rest = path.index(after: path.startIndex)
        while let slash = path[rest...].firstIndex(of: "/") {
            let prefix = String(path[..<slash])
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { throw failure("mkdir", prefix) }
            rest = path.index(after: slash)
        }
    }

    private static func failure(_ call: String, _ path: String) -> CrashtestError {
        CrashtestError("\(call) \(path): \(String(cString: strerror(errno)))")
    }
}
