import Floe
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A small HTTP/1.1 proxy on 127.0.0.1 between an S3 client and an S3 server on
/// loopback (moto) that injects faults: statuses, resets, lost acknowledgements,
/// truncated and slow bodies (`ProxyFault`), as its `plan` says, request by request.
/// One thread accepts; one thread per client connection reads a request,
/// asks `plan` for a fault, forwards the request to the server on a fresh upstream
/// connection (`Connection: close`), and answers with keep-alive unless the fault
/// says otherwise. Bodies are framed by Content-Length (chunked request bodies
/// are decoded). Used by the FloeS3 tests and by `floe s3 proxy` (docs/s3.md).
///
/// Invariants: every fault applied is counted once in `counts` (a truncation of
/// an answer without a body is not applied and not counted); a request the server
/// answered is counted in `forwarded` whatever the client then got.
///
/// `@unchecked Sendable`: every mutable field (`State`: clients, counts, the
/// request log, `stopped`) is guarded by `state`, a `Lock`; `listener`,
/// `upstreamPort`, `port`, `recordRequests` and `plan` never change.
public final class FaultProxy: @unchecked Sendable {
    /// Chooses the fault of each request (nil: forward untouched). Called on the
    /// proxy's connection threads, concurrently.
    public typealias Plan = @Sendable (ProxyRequest) -> ProxyFault?

    private struct State {
        var clients: Set<Int32> = []
        var counts: [ProxyFault: Int] = [:]
        var forwarded = 0
        var stopped = false
        var peakClients = 0
        var log: [ProxyLogEntry] = []
        /// Requests read but not yet logged (counted only with `recordRequests`).
        var unlogged = 0
    }

    /// Seconds a `.stall` withholds the answer.
    public static let stallSeconds = 8.0

    /// The port the proxy listens on, on 127.0.0.1.
    public let port: Int
    private let listener: Int32
    private let upstreamPort: Int
    private let recordRequests: Bool
    private let plan: Plan
    private let state = Lock(State())

    /// `http://127.0.0.1:<port>` of the proxy.
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Faults injected so far, by kind.
    public var counts: [ProxyFault: Int] { state.withLock { $0.counts } }
    /// Requests forwarded to the server so far.
    public var forwarded: Int { state.withLock { $0.forwarded } }
    /// The most client connections open at once.
    public var peakClients: Int { state.withLock { $0.peakClients } }
    /// Every request handled so far, in the order they finished (empty unless
    /// the proxy was started with `recordRequests`).
    ///
    /// A request is logged just after its answer is sent, so a client can hold
    /// an answer whose entry is not here yet; `settledRequestLog` waits for it.
    public var requestLog: [ProxyLogEntry] { state.withLock { $0.log } }

    /// The request log once every request the proxy has read is logged, waiting
    /// up to `timeout` for that (then the log as it stands).
    public func settledRequestLog(timeout: Duration = .seconds(5)) -> [ProxyLogEntry] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let (log, unlogged) = state.withLock { ($0.log, $0.unlogged) }
            if unlogged == 0 || ContinuousClock.now >= deadline { return log }
            Thread.sleep(forTimeInterval: 0.001)
        }
    }

    /// One line: forwarded requests and injected faults by kind, in `ProxyFault` order.
    public var summary: String {
        let (counts, forwarded) = state.withLock { ($0.counts, $0.forwarded) }
        let total = counts.values.reduce(0, +)
        let kinds = ProxyFault.allCases.map { "\($0.rawValue)=\(counts[$0] ?? 0)" }.joined(separator: " ")
        return "forwarded \(forwarded), injected \(total): \(kinds)"
    }

    /// Starts a proxy to the server at `upstream` (`http://127.0.0.1:<port>` or
    /// `http://localhost:<port>`), listening on 127.0.0.1:`listenPort` (0: a free port).
    /// `recordRequests` keeps a `ProxyLogEntry` of every request (memory grows with them).
    /// - Throws: `FloeError.invalidArgument` for an upstream that is not a loopback
    ///   `http` URL with a port or a port outside 0...65535; `FloeError.io` if the
    ///   socket cannot be bound.
    public init(upstream: String, listenPort: Int = 0, recordRequests: Bool = false, plan: @escaping Plan) throws {
        self.upstreamPort = try Self.loopbackPort(upstream)
        guard (0...65535).contains(listenPort) else {
            throw FloeError.invalidArgument("fault proxy: listen port \(listenPort) is not in 0...65535")
        }
        self.plan = plan
        self.recordRequests = recordRequests
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw FloeError.io(path: "fault proxy", reason: "socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(listenPort).bigEndian)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 64) == 0 else {
            let reason = String(cString: strerror(errno))
            close(listener)
            throw FloeError.io(path: "fault proxy 127.0.0.1:\(listenPort)", reason: "bind/listen: \(reason)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        self.listener = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        let proxy = self
        Thread.detachNewThread { proxy.acceptLoop() }
    }

    /// The port of `http://127.0.0.1:<port>` or `http://localhost:<port>` (a trailing `/` allowed).
    static func loopbackPort(_ upstream: String) throws -> Int {
        var rest = Substring(upstream)
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        for host in ["http://127.0.0.1:", "http://localhost:"] where rest.hasPrefix(host) {
            if let port = Int(rest.dropFirst(host.count)), (1...65535).contains(port) { return port }
        }
        throw FloeError.invalidArgument("fault proxy: upstream must be http://127.0.0.1:PORT (or localhost), got '\(upstream)'")
    }

    /// A plan that injects a fault into each request with probability `rate`,
    /// the kind uniform among `kinds` (409 only on conditional puts), from `seed`.
    /// The sequence of draws is seeded; which request gets which draw depends on
    /// the order requests arrive in.
    public static func seededPlan(seed: UInt64, rate: Double, kinds: [ProxyFault] = ProxyFault.storm) -> Plan {
        let rng = LockedRandom(seed: seed)
        return { request in
            let (draw, pick) = rng.next2()
            guard Double(draw % 1_000_000) / 1_000_000 < rate else { return nil }
            let usable = kinds.filter { $0 != .conditionalConflict || request.conditional }
            return usable.isEmpty ? nil : usable[Int(pick % UInt64(usable.count))]
        }
    }

    /// Stops accepting and closes every client connection. Counts stay readable.
    public func stop() {
        // Under the lock: a connection thread closes its descriptor under it too, so none is reused meanwhile.
        state.withLock { s in
            s.stopped = true
            for fd in s.clients { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
        }
        _ = Glibc.shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    // MARK: - Connections

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            let admitted = state.withLock { s -> Bool in
                if s.stopped { return false }
                s.clients.insert(fd)
                s.peakClients = max(s.peakClients, s.clients.count)
                return true
            }
            guard admitted else { close(fd); return }
            let proxy = self
            Thread.detachNewThread { proxy.serve(fd) }
        }
    }

    private func serve(_ client: Int32) {
        var reader = SocketReader(fd: client)
        defer {
            state.withLock { s in
                s.clients.remove(client)
                close(client)
            }
        }
        while let request = reader.readRequest() {
            if recordRequests { state.withLock { $0.unlogged += 1 } }
            let start = ContinuousClock.now
            let info = ProxyRequest(method: request.method, target: request.target,
                                    conditional: request.header("if-none-match") != nil)
            let fault = plan(info)
            let keepGoing = answer(request, fault, on: client)
            if recordRequests {
                let entry = ProxyLogEntry(method: request.method, target: request.target, fault: fault, start: start, end: .now)
                state.withLock { s in
                    s.log.append(entry)
                    s.unlogged -= 1
                }
            }
            guard keepGoing else { return }
        }
    }

    /// Applies `fault` to `request` and answers the client; false when the connection is done.
    private func answer(_ request: HTTPMessage, _ fault: ProxyFault?, on client: Int32) -> Bool {
        switch fault {
        case .internalError?:
            record(.internalError)
            guard send(client, errorResponse(500, "InternalError", "injected")) else { return false }
            return true
        case .slowDown?:
            record(.slowDown)
            guard send(client, errorResponse(503, "SlowDown", "Please reduce your request rate.")) else { return false }
            return true
        case .tooManyRequests?:
            record(.tooManyRequests)
            guard send(client, errorResponse(429, "TooManyRequests", "injected")) else { return false }
            return true
        case .conditionalConflict?:
            record(.conditionalConflict)
            guard send(client, errorResponse(409, "ConditionalRequestConflict", "injected")) else { return false }
            return true
        case .resetBefore?:
            record(.resetBefore)
            reset(client)
            return false
        default:
            break
        }
        guard let response = forward(request) else {
            _ = send(client, errorResponse(502, "BadGateway", "the upstream server did not answer"))
            return false
        }
        state.withLock { $0.forwarded += 1 }
        switch fault {
        case .resetAfter?:
            record(.resetAfter)
            reset(client)
            return false
        case .internalErrorAfter?:
            record(.internalErrorAfter)
            guard send(client, errorResponse(500, "InternalError", "injected after forwarding")) else { return false }
        case .truncatedBody? where !response.body.isEmpty && request.method != "HEAD":
            record(.truncatedBody)
            _ = send(client, response.head(keepAlive: false) + Array(response.body.prefix(response.body.count / 2)))
            return false
        case .stall?:
            record(.stall)
            usleep(UInt32(Self.stallSeconds * 1_000_000))
            guard send(client, response.head(keepAlive: true) + (request.method == "HEAD" ? [] : response.body)) else { return false }
        case .slowBody?:
            record(.slowBody)
            guard send(client, response.head(keepAlive: true)) else { return false }
            usleep(30_000)
            guard send(client, request.method == "HEAD" ? [] : response.body) else { return false }
        default:
            guard send(client, response.head(keepAlive: true) + (request.method == "HEAD" ? [] : response.body)) else { return false }
        }
        return true
    }

    /// Counts a fault that was applied (a truncation of a body-less answer is not).
    private func record(_ fault: ProxyFault) {
        state.withLock { $0.counts[fault, default: 0] += 1 }
    }

    /// Sends `request` to the upstream server on a new connection and reads the whole answer.
    private func forward(_ request: HTTPMessage) -> HTTPMessage? {
        guard let fd = LoopbackSocket.connect(port: upstreamPort) else { return nil }
        defer { close(fd) }
        var head = "\(request.method) \(request.target) HTTP/1.1\r\n"
        for (name, value) in request.headers {
            let lower = name.lowercased()
            if lower == "connection" || lower == "content-length" || lower == "transfer-encoding" { continue }
            head += "\(name): \(value)\r\n"
        }
        head += "Content-Length: \(request.body.count)\r\nConnection: close\r\n\r\n"
        guard send(fd, Array(head.utf8) + request.body) else { return nil }
        var reader = SocketReader(fd: fd)
        return reader.readResponse(toHead: request.method == "HEAD")
    }

    private func errorResponse(_ status: Int, _ code: String, _ message: String) -> [UInt8] {
        let body = Array("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>\(code)</Code><Message>\(message)</Message></Error>".utf8)
        let head = "HTTP/1.1 \(status) \(code)\r\nContent-Type: application/xml\r\nContent-Length: \(body.count)\r\n"
            + "Connection: keep-alive\r\n\r\n"
        return Array(head.utf8) + body
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    /// Closes with RST (SO_LINGER 0) rather than FIN.
    private func reset(_ fd: Int32) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    }
}

/// A seeded generator shared by the proxy's connection threads.
final class LockedRandom: Sendable {
    private let rng: Lock<SplitMix64>
    init(seed: UInt64) { rng = Lock(SplitMix64(seed: seed)) }
    func next2() -> (UInt64, UInt64) { rng.withLock { ($0.next(), $0.next()) } }
}

