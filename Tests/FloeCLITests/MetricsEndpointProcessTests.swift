import Testing
#if canImport(Glibc)
import Glibc
#endif
import FloeDataflow
@testable import floe

/// `floe pipeline run --metrics-port 0` as a child process: its `/metrics`
/// endpoint (Prometheus text format, 127.0.0.1) is scraped twice over plain HTTP
/// while the pipeline runs, and the store's and the pipeline's counters must have
/// moved in between. Then SIGTERM: the run stops gracefully (exit 0, its report).
@Suite(.serialized, .enabled(if: FloeBinary.path != nil, "the floe executable is not built"))
struct MetricsEndpointProcessTests {
    @Test(.timeLimit(.minutes(3)))
    func pipelineRunServesMovingCounters() async throws {
        let work = try EotestProcessTests.temporaryWork()
        defer { EotestFiles.remove(work) }
        let events = 20_000
        #expect(try await FollowerProcessTests.run(["log", "generate", "--stream", "orders", "--events", "\(events)", "--seed", "3",
                                                    "--out", work + "/orders.csv"]) == .exited(0))
        #expect(try await FollowerProcessTests.run(["log", "load", "--log", work + "/log", "--topic", "orders", "--partitions", "2",
                                                    work + "/orders.csv"]) == .exited(0))
        // No --until-end: it runs (committing an epoch every 20 ms, empty ones once the
        // log is consumed) until SIGTERM.
        let run = try ChildProcess(executable: FloeBinary.path!, arguments: [
            "pipeline", "run", "--log", work + "/log", "--path", work + "/store", "--query", EoViews.revenue,
            "--barrier-interval-ms", "20", "--chunk-rows", "64", "--metrics-port", "0", "--log-level", "debug"],
            environment: [:], outputFiles: (work + "/run.out", work + "/run.err"))
        let port = try await Self.announcedPort(in: work + "/run.err")

        // The endpoint serves from the start; the pipeline's metrics appear once its run
        // began (after the store opened and the plan was built: slow under a sanitizer).
        var first = try await Self.scrape(port: port, path: "/metrics")
        for _ in 0..<600 where !first.body.contains("floe_pipeline_epochs_committed_total ") {
            try await Task.sleep(for: .milliseconds(50))
            first = try await Self.scrape(port: port, path: "/metrics")
        }
        #expect(first.status == 200)
        #expect(first.body.contains("# TYPE floe_pipeline_epochs_committed_total counter"))
        try await Task.sleep(for: .milliseconds(500))
        let second = try await Self.scrape(port: port, path: "/metrics")
        #expect(second.status == 200)
        for name in ["floe_pipeline_epochs_committed_total", "floe_commit_seconds_count", "floe_sync_seconds_count",
                     #"floe_object_store_requests_total{op="create_if_absent"}"#, "floe_pipeline_barrier_seconds_count"] {
            let a = try #require(Self.value(name, in: first.body), "\(name) missing from the first scrape")
            let b = try #require(Self.value(name, in: second.body), "\(name) missing from the second scrape")
            #expect(b > a, "\(name) did not move: \(a) then \(b)")
        }
        // Source rows are counted per barrier, so once the log is consumed the counter holds every event.
        var consumed = 0.0
        for _ in 0..<200 where consumed < Double(events) {
            consumed = Self.value(#"floe_pipeline_source_events_total{source="log:orders"}"#,
                                  in: try await Self.scrape(port: port, path: "/metrics").body) ?? 0
            if consumed < Double(events) { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(consumed == Double(events))
        #expect(try await Self.scrape(port: port, path: "/other").status == 404)

        run.send(SIGTERM)
        var ended: ChildProcess.Termination?
        for _ in 0..<1200 where ended == nil {
            ended = run.exitIfEnded()
            if ended == nil { try await Task.sleep(for: .milliseconds(25)) }
        }
        #expect(ended == .exited(0))
        let out = String(decoding: try #require(readWholeFileBytes(work + "/run.out")), as: UTF8.self)
        #expect(out.contains("stopped by a signal; committed epoch"), "\(out)")
        let err = String(decoding: try #require(readWholeFileBytes(work + "/run.err")), as: UTF8.self)
        #expect(err.contains("store opened"), "--log-level debug logs the store's open")
    }

    /// The port `floe: serving metrics at http://127.0.0.1:PORT/metrics` names on stderr.
    static func announcedPort(in file: String) async throws -> Int {
        let prefix = "floe: serving metrics at http://127.0.0.1:"
        for _ in 0..<600 {
            if let bytes = readWholeFileBytes(file) {
                for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix(prefix) {
                    if let port = Int(line.dropFirst(prefix.count).prefix { $0.isNumber }) { return port }
                }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw EotestError("the child never announced its metrics endpoint")
    }

    /// The value of the sample `name` (with its labels, as printed) in a Prometheus text exposition.
    static func value(_ name: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.dropFirst(name.count + 1).split(separator: " ").first ?? "")
        }
        return nil
    }

    /// One HTTP/1.1 GET to 127.0.0.1:`port` over a plain socket: status and body.
    static func scrape(port: Int, path: String) async throws -> (status: Int, body: String) {
        try await offCooperativePool {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw EotestError("socket: \(errno)") }
            defer { close(fd) }
            var tv = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else { throw EotestError("connect to port \(port): errno \(errno)") }
            let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
            guard write(fd, request, request.count) == request.count else { throw EotestError("write: \(errno)") }
            var response: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(fd, &chunk, chunk.count)
                guard n > 0 else { break }
                response += chunk[0..<n]
            }
            let text = String(decoding: response, as: UTF8.self)
            guard let split = text.range(of: "\r\n\r\n") else { throw EotestError("malformed response: \(text.prefix(200))") }
            let statusLine = text[..<split.lowerBound].split(separator: "\r\n").first ?? ""
            let parts = statusLine.split(separator: " ")
            guard parts.count >= 2, let status = Int(parts[1]) else { throw EotestError("bad status line \(statusLine)") }
            return (status, String(text[split.upperBound...]))
        }
    }
}

/// The whole content of a file, or nil when it cannot be read.
func readWholeFileBytes(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &chunk, chunk.count)
        guard n > 0 else { break }
        out += chunk[0..<n]
    }
    return out
}
