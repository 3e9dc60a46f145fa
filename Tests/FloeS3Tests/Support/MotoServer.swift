import Floe
import FloeS3
import FloeTesting
import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// moto's S3 server (PyPI `moto[server]`, installed by scripts/install-deps.sh),
/// started once per test process on a loopback port it picks the first time a test
/// asks for it, and stopped when the process exits. A watcher thread in the
/// launcher makes moto exit too if this process dies without running its exit
/// handlers (SIGKILL, a crash), so no server outlives the tests.
///
/// `FLOE_MOTO_LOG=path` keeps moto's request log.
actor MotoServer {
    static let shared = MotoServer()

    /// The one start, shared by every caller: the actor is reentrant across the
    /// launch's awaits, so callers wait on this task rather than launch again.
    private var starting: Task<String, any Error>?

    /// `http://127.0.0.1:<port>` of the running server, started on first use.
    /// - Throws: `MotoUnavailable` with what to do when moto cannot be started.
    func start() async throws -> String {
        if let starting { return try await starting.value }
        let task = Task { try await self.launch() }
        starting = task
        return try await task.value
    }

    private func launch() async throws -> String {
        let script = """
            import os, sys, threading, time
            parent = os.getppid()
            def watch():
                while os.getppid() == parent:
                    time.sleep(0.5)
                os._exit(0)
            threading.Thread(target=watch, daemon=True).start()
            try:
                from moto.server import main
            except ImportError as e:
                sys.stderr.write("moto is not importable: %s\\n" % e)
                sys.exit(3)
            main(["-H", "127.0.0.1", "-p", sys.argv[1]])
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // Port 0: the server binds a free port itself and prints it (no race with
        // another listener taking a port picked here).
        process.arguments = ["python3", "-c", script, "0"]
        // moto logs every request to standard error: kept only with FLOE_MOTO_LOG, else
        // in a temporary file that goes once moto listens (it explains a failed start).
        let keptLog = ProcessInfo.processInfo.environment["FLOE_MOTO_LOG"].flatMap { $0.isEmpty ? nil : $0 }
        let errorLog = keptLog.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("floe-moto-\(UInt64.random(in: 0 ... .max)).log")
        _ = FileManager.default.createFile(atPath: errorLog.path, contents: nil)
        let log = try FileHandle(forWritingTo: errorLog)
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw MotoUnavailable(reason: "cannot start python3: \(error)")
        }
        MotoServer.pid.store(process.processIdentifier, ordering: .relaxed)
        MotoServer.registerExitHandler()
        let started = ContinuousClock.now
        while ContinuousClock.now - started < .seconds(60) {
            if !process.isRunning {
                let log = (try? String(contentsOf: errorLog, encoding: .utf8)) ?? ""
                throw MotoUnavailable(reason: "moto_server exited with \(process.terminationStatus): \(log.suffix(2000))")
            }
            if let text = try? String(contentsOf: errorLog, encoding: .utf8), let port = Self.listeningPort(text), canConnect(port) {
                if keptLog == nil { try? FileManager.default.removeItem(at: errorLog) }
                return "http://127.0.0.1:\(port)"
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        process.terminate()
        throw MotoUnavailable(reason: "moto_server did not report listening within 60 s")
    }

    /// The port of werkzeug's ` * Running on http://127.0.0.1:PORT` line.
    static func listeningPort(_ log: String) -> Int? {
        guard let range = log.range(of: "Running on http://127.0.0.1:") else { return nil }
        let digits = log[range.upperBound...].prefix { $0.isNumber }
        return Int(digits)
    }

    // MARK: - Process exit

    private static let pid = Atomic<Int32>(0)
    private static let handlerRegistered = Atomic<Bool>(false)

    private static func registerExitHandler() {
        guard handlerRegistered.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        atexit {
            let pid = MotoServer.pid.load(ordering: .relaxed)
            if pid > 0 { kill(pid, SIGTERM) }
        }
    }
}

struct MotoUnavailable: Error, CustomStringConvertible {
    var reason: String
    var description: String {
        "moto's S3 server is needed by the FloeS3 tests and could not be started (\(reason)). "
            + "Install it with scripts/install-deps.sh (pip install 'moto[server]')."
    }
}

/// A port nothing listens on now (bound to 0 and released).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw MotoUnavailable(reason: "socket: \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw MotoUnavailable(reason: "bind: \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Whether a TCP connection to 127.0.0.1:`port` succeeds.
func canConnect(_ port: Int) -> Bool {
    guard let fd = LoopbackSocket.connect(port: port) else { return false }
    close(fd)
    return true
}

/// Fixed credentials for moto (it does not check signatures).
let motoCredentials = S3Credentials(accessKeyID: "AKIDFLOETEST", secretAccessKey: "floe-test-secret")

/// A fresh bucket name.
func uniqueBucket(_ label: String = "t") -> String {
    "floe-\(label)-\(String(UInt64.random(in: 0 ... .max), radix: 36))"
}

/// The configuration of a store in `bucket` at `endpoint`, path-style, with short retry waits.
func s3Configuration(bucket: String, endpoint: String, prefix: String = "") -> S3Configuration {
    var c = S3Configuration(bucket: bucket, prefix: prefix, region: "us-east-1", endpoint: endpoint,
                            addressing: .pathStyle, credentials: motoCredentials)
    c.retry = S3RetryPolicy(maxAttempts: 10, baseDelay: 0.005, maxDelay: 0.2)
    c.requestTimeout = 10
    return c
}

/// Runs `body` against a store on a new bucket of the shared moto server,
/// shutting the store down afterwards. `configure` adjusts the configuration.
func withMotoStore(prefix: String = "", configure: ((inout S3Configuration) -> Void)? = nil,
                   _ body: (S3ObjectStore) async throws -> Void) async throws {
    let endpoint = try await MotoServer.shared.start()
    var configuration = s3Configuration(bucket: uniqueBucket(), endpoint: endpoint, prefix: prefix)
    configure?(&configuration)
    let store = try S3ObjectStore(configuration, environment: [:])
    do {
        try await store.createBucket()
        try await body(store)
    } catch {
        try? await store.shutdown()
        throw error
    }
    try await store.shutdown()
}
