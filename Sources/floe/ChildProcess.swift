#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started with `posix_spawn`: its stdout either on a pipe the
/// parent reads line by line, or (with `outputFiles`) stdout and stderr written
/// to files; stdin (and stderr with the pipe, unless `stderrFile` names a file) inherited.
final class ChildProcess {
    let pid: pid_t
    /// Read end of the stdout pipe, or -1 when stdout goes to a file.
    private let output: Int32
    private var buffer: [UInt8] = []
    private var exited = false

    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts `executable` with `arguments` (not including argv[0]), stdout on a pipe.
    convenience init(executable: String, arguments: [String]) throws {
        try self.init(executable: executable, arguments: arguments, environment: [:], outputFiles: nil)
    }

    /// Starts `executable` with `arguments`; `environment` entries are added to (or
    /// replace) this process's environment. With `outputFiles`, stdout and stderr are
    /// written to those files (created or truncated) and `readLine` is not available;
    /// without them, stdout is on the pipe and `stderrFile` (if given) receives stderr.
    init(executable: String, arguments: [String], environment: [String: String],
         outputFiles: (stdout: String, stderr: String)?, stderrFile: String? = nil) throws {
        var fds: [Int32] = [-1, -1]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let files = outputFiles {
            let flags = O_WRONLY | O_CREAT | O_TRUNC
            posix_spawn_file_actions_addopen(&actions, 1, files.stdout, flags, 0o644)
            posix_spawn_file_actions_addopen(&actions, 2, files.stderr, flags, 0o644)
        } else {
            guard pipe(&fds) == 0 else { throw SpawnError(description: "pipe: \(String(cString: strerror(errno)))") }
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
            posix_spawn_file_actions_addclose(&actions, fds[0])
            posix_spawn_file_actions_addclose(&actions, fds[1])
            if let stderrFile { posix_spawn_file_actions_addopen(&actions, 2, stderrFile, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
        }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var env: [String] = []
        var p = environ
        while let entry = p.pointee {
            let text = String(cString: entry)
            let name = text.split(separator: "=", maxSplits: 1).first.map(String.init) ?? text
            if environment[name] == nil { env.append(text) }
            p += 1
        }
        env += environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer { for e in envp { free(e) } }
        var child = pid_t()
        let rc = posix_spawn(&child, executable, &actions, nil, argv, envp)
        if fds[1] >= 0 { close(fds[1]) }
        guard rc == 0 else {
            if fds[0] >= 0 { close(fds[0]) }
            throw SpawnError(description: "cannot start \(executable): \(String(cString: strerror(rc)))")
        }
        pid = child
        output = fds[0]
    }

    deinit {
        if !exited {
            kill(pid, SIGKILL)
            _ = waitForExit()
        }
        if output >= 0 { close(output) }
    }

    /// The next line the child wrote to stdout (without the newline), or nil at end of file.
    /// Blocks the calling thread until a line or end of file arrives.
    func readLine() throws -> String? {
        precondition(output >= 0, "readLine needs the stdout pipe")
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeSubrange(...nl)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SpawnError(description: "reading the output of process \(pid): \(String(cString: strerror(errno)))")
            }
            if n == 0 {
                guard !buffer.isEmpty else { return nil }
                defer { buffer.removeAll() }
                return String(decoding: buffer, as: UTF8.self)
            }
            buffer.append(contentsOf: chunk[..<n])
        }
    }

    /// The complete lines the child wrote to stdout so far (without newlines), waiting
    /// at most `waitMillis` for the first; `ended` once the pipe reached end of file
    /// (a last line without a newline is then returned too). Never blocks longer.
    func availableLines(waitMillis: Int32) throws -> (lines: [String], ended: Bool) {
        precondition(output >= 0, "availableLines needs the stdout pipe")
        var lines: [String] = []
        var wait = waitMillis
        while true {
            while let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                lines.append(String(decoding: buffer[..<nl], as: UTF8.self))
                buffer.removeSubrange(...nl)
            }
            var p = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, lines.isEmpty ? wait : 0)
            if ready < 0 {
                if errno == EINTR { continue }
                throw SpawnError(description: "waiting for the output of process \(pid): \(String(cString: strerror(errno)))")
            }
            if ready == 0 { return (lines, false) }
            wait = 0
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SpawnError(description: "reading the output of process \(pid): \(String(cString: strerror(errno)))")
            }
            if n == 0 {
                if !buffer.isEmpty { lines.append(String(decoding: buffer, as: UTF8.self)) }
                buffer.removeAll()
                return (lines, true)
            }
            buffer.append(contentsOf: chunk[..<n])
        }
    }

    /// Sends `signal` to the child.
    func send(_ signal: Int32) {
        kill(pid, signal)
    }

    /// How the child ended.
    enum Termination: Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        var description: String {
            switch self {
            case let .exited(code): "exited with status \(code)"
            case let .signalled(sig): "was killed by signal \(sig)"
            }
        }
    }

    /// SIGKILLs the child (a stopped one too) and waits for it to end.
    func killAndWait() -> Termination {
        send(SIGKILL)
        return waitForExit()
    }

    /// Waits for the child to end (blocking the calling thread).
    func waitForExit() -> Termination {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        exited = true
        return Self.termination(status)
    }

    /// How the child ended, or nil while it runs (does not block).
    func exitIfEnded() -> Termination? {
        var status: Int32 = 0
        var r: pid_t
        repeat { r = waitpid(pid, &status, WNOHANG) } while r < 0 && errno == EINTR
        guard r == pid else { return nil }
        exited = true
        return Self.termination(status)
    }

    /// What `pollStop` saw.
    enum StopState: Equatable {
        case running
        /// The child is stopped (SIGSTOP, or it raised it itself); SIGCONT resumes it.
        case stopped
        case ended(Termination)
    }

    /// Whether the child has stopped or ended, without blocking. A stop is reported
    /// once: after it, poll `exitIfEnded` (which ignores stops).
    func pollStop() -> StopState {
        var status: Int32 = 0
        var r: pid_t
        repeat { r = waitpid(pid, &status, WNOHANG | WUNTRACED) } while r < 0 && errno == EINTR
        guard r == pid else { return .running }
        // WIFSTOPPED by hand: the low byte is 0x7f for a stopped child.
        if status & 0xff == 0x7f { return .stopped }
        exited = true
        return .ended(Self.termination(status))
    }

    static func termination(_ status: Int32) -> Termination {
        // WIFEXITED / WTERMSIG by hand: the C macros are not imported.
        let sig = status & 0x7f
        return sig == 0 ? .exited((status >> 8) & 0xff) : .signalled(sig)
    }

    /// The path of the running executable (to re-exec it as a child).
    static func currentExecutable() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        if n > 0 { return String(decoding: buf[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        return CommandLine.arguments[0]
    }
}
