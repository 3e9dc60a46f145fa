#if canImport(Glibc)
import Glibc
#endif

/// Counters of /proc/PID/io: what a process (all its threads, live and exited) read and wrote.
struct IOCounters: Sendable {
    /// Bytes the process caused to be sent to the storage layer (pages it dirtied).
    var writeBytes: UInt64 = 0
    /// Dirtied bytes that never reached storage because the file was truncated or deleted first.
    var cancelledWriteBytes: UInt64 = 0
    /// Bytes passed to write(2) and friends, storage or not.
    var wchar: UInt64 = 0

    /// Bytes that reached (or will reach) the device.
    var deviceBytes: UInt64 { writeBytes &- cancelledWriteBytes }

    static func read(pid: Int32? = nil) throws -> IOCounters {
        let path = pid.map { "/proc/\($0)/io" } ?? "/proc/self/io"
        guard let text = readSmallFile(path) else { throw EngineError("cannot read \(path)") }
        var c = IOCounters()
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":")
            guard parts.count == 2, let v = UInt64(parts[1].trimmingPrefixSpaces()) else { continue }
            switch parts[0] {
            case "write_bytes": c.writeBytes = v
            case "cancelled_write_bytes": c.cancelledWriteBytes = v
            case "wchar": c.wchar = v
            default: break
            }
        }
        return c
    }

    static func - (a: IOCounters, b: IOCounters) -> IOCounters {
        IOCounters(writeBytes: a.writeBytes &- b.writeBytes, cancelledWriteBytes: a.cancelledWriteBytes &- b.cancelledWriteBytes,
                   wchar: a.wchar &- b.wchar)
    }

    static func + (a: IOCounters, b: IOCounters) -> IOCounters {
        IOCounters(writeBytes: a.writeBytes &+ b.writeBytes, cancelledWriteBytes: a.cancelledWriteBytes &+ b.cancelledWriteBytes,
                   wchar: a.wchar &+ b.wchar)
    }
}

func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; return nil }
        if n == 0 { break }
        out.append(contentsOf: buf[0..<n])
    }
    return String(decoding: out, as: UTF8.self)
}

func writeFile(_ path: String, _ text: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw EngineError("cannot create \(path): errno \(errno)") }
    defer { close(fd) }
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; throw EngineError("write \(path): errno \(errno)") }
        bytes = bytes.dropFirst(n)
    }
}

func listDirectory(_ path: String) -> [String] {
    guard let d = opendir(path) else { return [] }
    defer { closedir(d) }
    var names: [String] = []
    while let e = readdir(d) {
        let name = withUnsafePointer(to: e.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

/// Apparent size (st_size) of every regular file under `path`, recursively.
func directoryBytes(_ path: String) -> UInt64 {
    var total: UInt64 = 0
    for name in listDirectory(path) {
        let p = path + "/" + name
        var st = stat()
        guard lstat(p, &st) == 0 else { continue }
        switch st.st_mode & S_IFMT {
        case S_IFDIR: total += directoryBytes(p)
        case S_IFREG: total += UInt64(st.st_size)
        default: break
        }
    }
    return total
}

func removeTree(_ path: String) {
    var st = stat()
    guard lstat(path, &st) == 0 else { return }
    if st.st_mode & S_IFMT == S_IFDIR {
        for name in listDirectory(path) { removeTree(path + "/" + name) }
        rmdir(path)
    } else {
        unlink(path)
    }
}

func makeDirectory(_ path: String) throws {
    if mkdir(path, 0o755) != 0 && errno != EEXIST { throw EngineError("mkdir \(path): errno \(errno)") }
}

func makeTempDirectory(prefix: String) -> String {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { buf -> String in
        _ = mkdtemp(buf.baseAddress!)
        return String(cString: buf.baseAddress!)
    }
}

func environment(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
}

/// The path of the running executable, to start a child of the same binary.
func selfExecutable() throws -> String {
    var buf = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buf, buf.count - 1)
    guard n > 0 else { throw EngineError("readlink /proc/self/exe failed") }
    return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// A child process of this binary whose stdout the parent reads line by line and
/// whose stdin is a pipe the parent never writes to: if the parent dies, the
/// child sees end-of-file and exits instead of lingering.
struct ChildProcess {
    let pid: pid_t
    private let stdoutFD: Int32
    private let stdinFD: Int32

    init(arguments: [String]) throws {
        let exe = try selfExecutable()
        var outPipe: [Int32] = [0, 0], inPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0, pipe(&inPipe) == 0 else { throw EngineError("pipe failed: errno \(errno)") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // The child keeps only its ends, as stdin and stdout; the parent's ends must not
        // leak into it, or the child would never see end-of-file on stdin.
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        for fd in inPipe + outPipe { posix_spawn_file_actions_addclose(&actions, fd) }
        let argv: [UnsafeMutablePointer<CChar>?] = ([exe] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var child = pid_t()
        let rc = posix_spawn(&child, exe, &actions, nil, argv, environ)
        close(outPipe[1])
        close(inPipe[0])
        guard rc == 0 else {
            close(outPipe[0]); close(inPipe[1])
            throw EngineError("posix_spawn \(exe): \(rc)")
        }
        pid = child
        stdoutFD = outPipe[0]
        stdinFD = inPipe[1]
    }

    /// The next line the child prints, or nil at end-of-file.
    func readLine() -> String? {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = read(stdoutFD, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return line.isEmpty ? nil : String(decoding: line, as: UTF8.self) }
            if byte == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
    }

    /// SIGKILLs the child and returns its I/O counters, read while it is a zombie
    /// (so every byte its threads wrote up to the kill is in them), then reaps it.
    func kill() throws -> IOCounters {
        _ = Glibc.kill(pid, SIGKILL)
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 {
            guard errno == EINTR else { throw EngineError("waitid \(pid): errno \(errno)") }
        }
        let io = try IOCounters.read(pid: pid)
        reap()
        return io
    }

    /// Waits for the child to exit; returns its wait status.
    @discardableResult
    func reap() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        close(stdoutFD)
        close(stdinFD)
        return status
    }
}

/// Blocks until stdin reaches end-of-file (the parent closed it or died).
func waitForStdinEOF() {
    var byte: UInt8 = 0
    while true {
        let n = read(0, &byte, 1)
        if n == 0 || (n < 0 && errno != EINTR) { return }
    }
}

/// What the report says about the machine.
struct MachineInfo: Sendable {
    var cpus: Int
    var cpuModel: String
    var memoryGiB: Double
    var kernel: String

    static func current() -> MachineInfo {
        var model = "unknown"
        if let text = readSmallFile("/proc/cpuinfo"),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let colon = line.firstIndex(of: ":") {
            model = String(line[line.index(after: colon)...].trimmingPrefixSpaces())
        }
        var mem = 0.0
        if let text = readSmallFile("/proc/meminfo"),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
           let kb = line.split(separator: " ").compactMap({ Double($0) }).first {
            mem = kb / 1_048_576
        }
        let kernel = readSmallFile("/proc/sys/kernel/osrelease").map { String($0.split(separator: "\n").first ?? "") } ?? "unknown"
        return MachineInfo(cpus: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), cpuModel: model, memoryGiB: mem, kernel: kernel)
    }
}

/// UTC date and time, ISO 8601.
func utcTimestamp() -> String {
    var t = time(nil)
    var tmv = tm()
    gmtime_r(&t, &tmv)
    func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return "\(tmv.tm_year + 1900)-\(two(tmv.tm_mon + 1))-\(two(tmv.tm_mday))T\(two(tmv.tm_hour)):\(two(tmv.tm_min)):\(two(tmv.tm_sec))Z"
}

/// Writes a line to stdout at once: progress must show while a long run goes on,
/// also when stdout is a file or pipe (where print would hold it in a buffer).
func say(_ text: String) {
    var bytes = Array((text + "\n").utf8)[...]
    while !bytes.isEmpty {
        let n = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; return }
        bytes = bytes.dropFirst(n)
    }
}
