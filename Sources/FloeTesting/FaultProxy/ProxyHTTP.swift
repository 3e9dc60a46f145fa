#if canImport(Glibc)
import Glibc
#endif
import Foundation

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
