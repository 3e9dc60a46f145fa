import Floe

/// The service's address, parsed from `S3Configuration.endpoint`.
struct S3Endpoint: Sendable, Equatable {
    var secure: Bool
    /// Host name or address; an IPv6 address keeps its brackets.
    var host: String
    var port: Int?
    /// A path the service is mounted under (`/s3`), or empty.
    var basePath: String

    /// `scheme://host[:port][/path]`; a missing scheme means https.
    /// - Throws: `FloeError.invalidArgument` for anything else.
    init(_ text: String) throws {
        var rest = Substring(text)
        if rest.hasPrefix("http://") { secure = false; rest = rest.dropFirst(7) }
        else if rest.hasPrefix("https://") { secure = true; rest = rest.dropFirst(8) }
        else if rest.contains("://") { throw FloeError.invalidArgument("S3 endpoint must be http:// or https://: \(text)") }
        else { secure = true }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<slash]
        var path = String(rest[slash...])
        while path.hasSuffix("/") { path.removeLast() }
        basePath = path
        if authority.contains("@") { throw FloeError.invalidArgument("S3 endpoint must not hold credentials") }
        port = nil
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw FloeError.invalidArgument("S3 endpoint: unclosed [ in \(text)") }
            let after = authority[authority.index(after: close)...]
            host = String(authority[...close])
            if after.hasPrefix(":") { port = Int(after.dropFirst()); if port == nil { throw FloeError.invalidArgument("S3 endpoint: bad port in \(text)") } }
        } else if let colon = authority.lastIndex(of: ":") {
            guard let p = Int(authority[authority.index(after: colon)...]) else { throw FloeError.invalidArgument("S3 endpoint: bad port in \(text)") }
            port = p
            authority = authority[..<colon]
            host = String(authority)
        } else {
            host = String(authority)
        }
        if host.isEmpty { throw FloeError.invalidArgument("S3 endpoint has no host: \(text)") }
        if let port, !(1...65535).contains(port) { throw FloeError.invalidArgument("S3 endpoint: port out of range in \(text)") }
    }

    /// AWS's endpoint of `region`.
    static func aws(region: String) -> S3Endpoint {
        // Built from parts known to parse.
        S3Endpoint(secure: true, host: "s3.\(region).amazonaws.com", port: nil, basePath: "")
    }

    private init(secure: Bool, host: String, port: Int?, basePath: String) {
        self.secure = secure; self.host = host; self.port = port; self.basePath = basePath
    }

    var scheme: String { secure ? "https" : "http" }

    /// `host[:port]` as the `Host` header carries it (the default port left out).
    func authority(host: String) -> String {
        guard let port, port != (secure ? 443 : 80) else { return host }
        return "\(host):\(port)"
    }
}
