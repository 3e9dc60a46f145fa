import Floe
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What the proxy does to one request.
enum ProxyFault: String, CaseIterable, Sendable {
    /// Answer 500 InternalError without forwarding.
    case internalError
    /// Answer 503 SlowDown without forwarding.
    case slowDown
    /// Answer 429 TooManyRequests without forwarding.
    case tooManyRequests
    /// Answer 409 ConditionalRequestConflict without forwarding (conditional puts only).
    case conditionalConflict
    /// Reset the connection without forwarding.
    case resetBefore
    /// Forward, then reset the connection instead of answering: a lost acknowledgement.
    case resetAfter
    /// Forward, then answer 500 instead of moto's answer: a lost acknowledgement too.
    case internalErrorAfter
    /// Forward, send the headers and half the body, then close.
    case truncatedBody
    /// Forward, send the headers, pause, then the body (below the request timeout).
    case slowBody
    /// Forward, then say nothing for `FaultProxy.stallSeconds` before answering
    /// (past a short request timeout). Not in storms: it only costs time.
    case stall

    /// Every fault a storm draws from.
    static let storm: [ProxyFault] = allCases.filter { $0 != .stall }
}

/// The request line and the headers that matter for choosing a fault.
struct ProxyRequest: Sendable {
    var method: String
    var target: String
    var conditional: Bool
}

/// A small HTTP/1.1 proxy on 127.0.0.1 between a client and moto that injects
/// faults: statuses, resets, lost acknowledgements, truncated and slow bodies.
/// One thread accepts; one thread per client connection reads a request,
/// asks `plan` for a fault, forwards the request to moto on a fresh upstream
/// connection (`Connection: close`), and answers with keep-alive unless the fault
/// says otherwise. Bodies are framed by Content-Length (chunked request bodies
/// are decoded).
///
/// `@unchecked Sendable`: every mutable field (`clients`, `counts`, `stopped`) is
/// guarded by `state`, a `Lock`; `listener` and `upstreamPort` never change.
final class FaultProxy: @unchecked Sendable {
    private struct State {
        var clients: Set<Int32> = []
        var counts: [ProxyFault: Int] = [:]
        var forwarded = 0
        var stopped = false
        var peakClients = 0
    }

    /// Seconds a `.stall` withholds the answer.
    static let stallSeconds = 8.0

    let port: Int
    private let listener: Int32
    private let upstreamPort: Int
    private let plan: @Sendable (ProxyRequest) -> ProxyFault?
    private let state = Lock(State())

    /// `http://127.0.0.1:<port>` of the proxy.
    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Faults injected so far, by kind.
    var counts: [ProxyFault: Int] { state.withLock { $0.counts } }
    /// Requests forwarded to moto so far.
    var forwarded: Int { state.withLock { $0.forwarded } }
    /// The most client connections open at once.
    var peakClients: Int { state.withLock { $0.peakClients } }

    /// Starts a proxy to moto at `upstream` (`http://127.0.0.1:<port>`).
    init(upstream: String, plan: @escaping @Sendable (ProxyRequest) -> ProxyFault?) throws {
        guard let upstreamPort = Int(upstream.split(separator: ":").last ?? "") else {
            throw FloeError.invalidArgument("upstream \(upstream)")
        }
        self.upstreamPort = upstreamPort
        self.plan = plan
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 64) == 0 else {
            close(listener)
            throw FloeError.io(path: "fault proxy", reason: "bind/listen: \(errno)")
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

    /// A plan that injects a fault into each request with probability `rate`,
    /// the kind uniform among `kinds` (409 only on conditional puts), from `seed`.
    /// The sequence of draws is seeded; which request gets which draw depends on
    /// the order requests arrive in.
    static func seededPlan(seed: UInt64, rate: Double, kinds: [ProxyFault] = ProxyFault.storm) -> @Sendable (ProxyRequest) -> ProxyFault? {
        let rng = LockedRandom(seed: seed)
        return { request in
            let (draw, pick) = rng.next2()
            guard Double(draw % 1_000_000) / 1_000_000 < rate else { return nil }
            let usable = kinds.filter { $0 != .conditionalConflict || request.conditional }
            return usable.isEmpty ? nil : usable[Int(pick % UInt64(usable.count))]
        }
    }

    /// Stops accepting and closes every client connection.
    func stop() {
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
            let info = ProxyRequest(method: request.method, target: request.target,
                                    conditional: request.header("if-none-match") != nil)
            let fault = plan(info)
            switch fault {
            case .internalError?:
                record(.internalError)
                guard send(client, errorResponse(500, "InternalError", "injected")) else { return }
                continue
            case .slowDown?:
                record(.slowDown)
                guard send(client, errorResponse(503, "SlowDown", "Please reduce your request rate.")) else { return }
                continue
            case .tooManyRequests?:
                record(.tooManyRequests)
                guard send(client, errorResponse(429, "TooManyRequests", "injected")) else { return }
                continue
            case .conditionalConflict?:
                record(.conditionalConflict)
                guard send(client, errorResponse(409, "ConditionalRequestConflict", "injected")) else { return }
                continue
            case .resetBefore?:
                record(.resetBefore)
                reset(client)
                return
            default:
                break
            }
            guard let response = forward(request) else {
                _ = send(client, errorResponse(502, "BadGateway", "moto did not answer"))
                return
            }
            state.withLock { $0.forwarded += 1 }
            switch fault {
            case .resetAfter?:
                record(.resetAfter)
                reset(client)
                return
            case .internalErrorAfter?:
                record(.internalErrorAfter)
                guard send(client, errorResponse(500, "InternalError", "injected after forwarding")) else { return }
            case .truncatedBody? where !response.body.isEmpty && request.method != "HEAD":
                record(.truncatedBody)
                _ = send(client, response.head(keepAlive: false) + Array(response.body.prefix(response.body.count / 2)))
                return
            case .stall?:
                record(.stall)
                usleep(UInt32(Self.stallSeconds * 1_000_000))
                guard send(client, response.head(keepAlive: true) + (request.method == "HEAD" ? [] : response.body)) else { return }
            case .slowBody?:
                record(.slowBody)
                guard send(client, response.head(keepAlive: true)) else { return }
                usleep(30_000)
                guard send(client, request.method == "HEAD" ? [] : response.body) else { return }
            default:
                guard send(client, response.head(keepAlive: true) + (request.method == "HEAD" ? [] : response.body)) else { return }
            }
        }
    }

    /// Counts a fault that was applied (a truncation of a body-less answer is not).
    private func record(_ fault: ProxyFault) {
        state.withLock { $0.counts[fault, default: 0] += 1 }
    }

    /// Sends `request` to moto on a new connection and reads the whole answer.
    private func forward(_ request: HTTPMessage) -> HTTPMessage? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(upstreamPort).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
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

/// A parsed HTTP/1.1 request or response.
struct HTTPMessage {
    /// Request: method; response: "HTTP/1.1".
    var method = ""
    /// Request: target; response: status code.
    var target = ""
    /// Response: the reason phrase.
    var reason = ""
    var headers: [(String, String)] = []
    var body: [UInt8] = []

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name }?.1
    }

    /// A response's status line and headers with our own framing.
    func head(keepAlive: Bool) -> [UInt8] {
        var text = "HTTP/1.1 \(target) \(reason)\r\n"
        for (name, value) in headers {
            let lower = name.lowercased()
            if lower == "connection" || lower == "transfer-encoding" || lower == "content-length" { continue }
            text += "\(name): \(value)\r\n"
        }
        // HEAD keeps the object's length; everything else carries its body.
        text += "Content-Length: \(method == "HEAD" ? (header("content-length") ?? "0") : String(body.count))\r\n"
        text += keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n"
        return Array(text.utf8)
    }
}

/// Buffered blocking reads of HTTP messages from a socket.
struct SocketReader {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var eof = false

    init(fd: Int32) { self.fd = fd }

    private mutating func fill() -> Bool {
        if eof { return false }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { eof = true; return false }
            buffer.append(contentsOf: chunk[0..<n])
            return true
        }
    }

    private mutating func readHead() -> [String]? {
        while true {
            if let end = findCRLFCRLF() {
                let text = String(decoding: buffer[0..<end], as: UTF8.self)
                buffer.removeFirst(end + 4)
                return text.components(separatedBy: "\r\n")
            }
            guard fill() else { return nil }
        }
    }

    private func findCRLFCRLF() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for i in 0...(buffer.count - 4) where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 {
            return i
        }
        return nil
    }

    private mutating func read(exactly count: Int) -> [UInt8]? {
        while buffer.count < count { guard fill() else { return nil } }
        let out = Array(buffer[0..<count])
        buffer.removeFirst(count)
        return out
    }

    private mutating func readLine() -> String? {
        while true {
            if let i = buffer.indices.dropLast().first(where: { buffer[$0] == 13 && buffer[$0 + 1] == 10 }) {
                let line = String(decoding: buffer[0..<i], as: UTF8.self)
                buffer.removeFirst(i + 2)
                return line
            }
            guard fill() else { return nil }
        }
    }

    private mutating func readChunked() -> [UInt8]? {
        var body: [UInt8] = []
        while true {
            guard let line = readLine(), let size = Int(line.split(separator: ";").first ?? "", radix: 16) else { return nil }
            if size == 0 {
                // Trailers, up to the empty line.
                while let trailer = readLine(), !trailer.isEmpty {}
                return body
            }
            guard let chunk = read(exactly: size), readLine() != nil else { return nil }
            body += chunk
        }
    }

    private static func parseHeaders(_ lines: ArraySlice<String>) -> [(String, String)] {
        lines.compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
    }

    /// The next request, or nil at the end of the connection.
    mutating func readRequest() -> HTTPMessage? {
        guard let lines = readHead(), let first = lines.first else { return nil }
        let parts = first.split(separator: " ")
        guard parts.count >= 2 else { return nil }
        var message = HTTPMessage(method: String(parts[0]), target: String(parts[1]))
        message.headers = Self.parseHeaders(lines.dropFirst())
        if message.header("transfer-encoding")?.lowercased().contains("chunked") == true {
            guard let body = readChunked() else { return nil }
            message.body = body
        } else if let length = message.header("content-length").flatMap({ Int($0) }), length > 0 {
            guard let body = read(exactly: length) else { return nil }
            message.body = body
        }
        return message
    }

    /// The whole response of a `Connection: close` exchange.
    mutating func readResponse(toHead isHead: Bool) -> HTTPMessage? {
        guard let lines = readHead(), let first = lines.first else { return nil }
        let parts = first.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2 else { return nil }
        var message = HTTPMessage(method: isHead ? "HEAD" : "", target: String(parts[1]), reason: parts.count > 2 ? String(parts[2]) : "")
        message.headers = Self.parseHeaders(lines.dropFirst())
        if isHead || message.target == "204" || message.target == "304" { return message }
        if message.header("transfer-encoding")?.lowercased().contains("chunked") == true {
            guard let body = readChunked() else { return nil }
            message.body = body
        } else if let length = message.header("content-length").flatMap({ Int($0) }) {
            guard let body = read(exactly: length) else { return nil }
            message.body = body
        } else {
            while fill() {}
            message.body = buffer
            buffer = []
        }
        return message
    }
}
