import Crypto
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`) for requests carrying the
/// signature in the `Authorization` header, written on swift-crypto's SHA-256
/// and HMAC. The steps and their names are AWS's ("Create a signed AWS API
/// request", the Signature Version 4 reference); docs/s3.md cites them and the
/// published test vectors the tests check.
///
/// 1. The **canonical request**: method, canonical URI, canonical query string,
///    canonical headers, signed headers and the hex SHA-256 of the payload,
///    one per line.
/// 2. The **string to sign**: algorithm, request time, credential scope
///    (`yyyymmdd/region/service/aws4_request`) and the hex SHA-256 of the
///    canonical request.
/// 3. The **signing key**: HMAC chain from `"AWS4" + secret` over the date,
///    region, service and `aws4_request`.
/// 4. The **signature**: hex HMAC-SHA256 of the string to sign with that key.
///
/// S3 signs the path as sent: each segment URI-encoded once, `/` kept, no
/// `.`/`..` normalisation (Floe's object paths never hold those anyway).
///
/// The secret key never leaves this type: it is not in any string this type
/// returns, and `S3Credentials` redacts it from its descriptions.
public struct S3Signer: Sendable {
    /// The HTTP header names and values of one request, in order. Names compare case-insensitively.
    public typealias Headers = [(name: String, value: String)]

    public var credentials: S3Credentials
    public var region: String
    public var service: String

    public init(credentials: S3Credentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// Hex SHA-256 of the empty payload.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// Signs a request: adds `x-amz-date` (unless present) and, with a session
    /// token, `x-amz-security-token` (unless present), then `Authorization`.
    /// Every header in `headers` is signed, so pass only those the request
    /// will carry unchanged (`host` included; not `content-length`, which the
    /// transport sets).
    ///
    /// - Parameters:
    ///   - path: the decoded path, starting with `/` (`/bucket/data/1.sst`).
    ///   - query: decoded query parameters; a flag like `?uploads` is `("uploads", "")`.
    ///   - payloadHash: hex SHA-256 of the body (`S3Signer.hash`), or `UNSIGNED-PAYLOAD`.
    ///   - time: seconds since 1970 (UTC) of the request.
    public func sign(method: String, path: String, query: [(String, String)], headers: inout Headers,
                     payloadHash: String, time: Int) {
        let stamp = Self.timestamp(time)
        if !headers.contains(where: { $0.name.lowercased() == "x-amz-date" }) {
            headers.append((name: "x-amz-date", value: stamp))
        }
        if let token = credentials.sessionToken,
           !headers.contains(where: { $0.name.lowercased() == "x-amz-security-token" }) {
            headers.append((name: "x-amz-security-token", value: token))
        }
        let auth = authorization(method: method, path: path, query: query, headers: headers,
                                 payloadHash: payloadHash, timestamp: stamp)
        headers.append((name: "Authorization", value: auth))
    }

    /// The `Authorization` header value for a request whose headers already
    /// hold everything to sign. `timestamp` is the `x-amz-date` value (`20150830T123600Z`).
    public func authorization(method: String, path: String, query: [(String, String)], headers: Headers,
                              payloadHash: String, timestamp: String) -> String {
        let canonical = canonicalRequest(method: method, path: path, query: query, headers: headers, payloadHash: payloadHash)
        let toSign = stringToSign(canonicalRequest: canonical, timestamp: timestamp)
        let signature = Self.hex(Self.hmac(signingKey(date: String(timestamp.prefix(8))), Array(toSign.utf8)))
        return "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope(timestamp: timestamp)), "
            + "SignedHeaders=\(Self.signedHeaders(headers)), Signature=\(signature)"
    }

    /// Step 1: the canonical request.
    public func canonicalRequest(method: String, path: String, query: [(String, String)], headers: Headers,
                                 payloadHash: String) -> String {
        [method, Self.encodePath(path), Self.canonicalQuery(query),
         Self.canonicalHeaders(headers), Self.signedHeaders(headers), payloadHash].joined(separator: "\n")
    }

    /// Step 2: the string to sign.
    public func stringToSign(canonicalRequest: String, timestamp: String) -> String {
        ["AWS4-HMAC-SHA256", timestamp, scope(timestamp: timestamp),
         Self.hash(Array(canonicalRequest.utf8))].joined(separator: "\n")
    }

    /// `yyyymmdd/region/service/aws4_request`.
    public func scope(timestamp: String) -> String {
        "\(timestamp.prefix(8))/\(region)/\(service)/aws4_request"
    }

    /// Step 3: the signing key of `date` (`yyyymmdd`).
    func signingKey(date: String) -> [UInt8] {
        let kDate = Self.hmac(Array(("AWS4" + credentials.secretAccessKey).utf8), Array(date.utf8))
        let kRegion = Self.hmac(kDate, Array(region.utf8))
        let kService = Self.hmac(kRegion, Array(service.utf8))
        return Self.hmac(kService, Array("aws4_request".utf8))
    }

    // MARK: - Canonical forms

    /// Lower-case names sorted, values trimmed with inner runs of spaces made
    /// one, repeated names joined with commas in request order; each line ends in `\n`.
    static func canonicalHeaders(_ headers: Headers) -> String {
        var byName: [String: [String]] = [:]
        for (name, value) in headers { byName[name.lowercased(), default: []].append(normalize(value)) }
        return byName.keys.sorted().map { "\($0):\(byName[$0]!.joined(separator: ","))\n" }.joined()
    }

    /// Lower-case header names, sorted, distinct, joined with `;`.
    static func signedHeaders(_ headers: Headers) -> String {
        Set(headers.map { $0.name.lowercased() }).sorted().joined(separator: ";")
    }

    /// Each name and value URI-encoded (`/` too), pairs sorted by name then value, joined with `&`.
    static func canonicalQuery(_ query: [(String, String)]) -> String {
        query.map { (encode($0.0, keepSlash: false), encode($0.1, keepSlash: false)) }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            .map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// The path as S3 signs and receives it: every byte but the unreserved ones and `/` percent-encoded.
    public static func encodePath(_ path: String) -> String { encode(path, keepSlash: true) }

    /// The query string as sent: the canonical query (the same bytes are signed and sent).
    public static func encodeQuery(_ query: [(String, String)]) -> String { canonicalQuery(query) }

    /// RFC 3986 encoding as SigV4 defines it: `A-Z a-z 0-9 - _ . ~` stay, every
    /// other UTF-8 byte becomes `%XY` (upper-case hex), `/` stays if `keepSlash`.
    static func encode(_ s: String, keepSlash: Bool) -> String {
        let hexDigits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                 UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(b)
            case UInt8(ascii: "/") where keepSlash:
                out.append(b)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(b >> 4)])
                out.append(hexDigits[Int(b & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Trims leading and trailing spaces and makes every run of spaces inside one space.
    static func normalize(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            .trimmingTabs()
    }

    // MARK: - Primitives

    /// Hex SHA-256 of `bytes`: the payload hash of `x-amz-content-sha256`.
    public static func hash<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var hasher = SHA256()
        if let done = bytes.withContiguousStorageIfAvailable({ hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }) {
            _ = done
        } else {
            hasher.update(data: Array(bytes))
        }
        return hex(Array(hasher.finalize()))
    }

    static func hmac(_ key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `yyyymmddThhmmssZ` of `time` (seconds since 1970, UTC).
    public static func timestamp(_ time: Int) -> String {
        var t = time_t(time)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    }
}

private extension String {
    /// Tabs at either end go too (header values are trimmed of all linear white space).
    func trimmingTabs() -> String {
        var s = Substring(self)
        while let f = s.first, f == "\t" || f == " " { s.removeFirst() }
        while let l = s.last, l == "\t" || l == " " { s.removeLast() }
        return String(s)
    }
}
