import Floe
@testable import FloeS3
import Foundation
import Testing

/// `S3Signer` against published Signature Version 4 vectors:
/// - AWS's `aws-sig-v4-test-suite` (Resources/sigv4, see its README.md for source
///   and licence): for each request (`.req`) the canonical request (`.creq`),
///   string to sign (`.sts`) and `Authorization` header (`.authz`);
/// - the four worked S3 examples of AWS's S3 API reference ("Signature
///   calculations for the Authorization header: transferring payload in a single
///   chunk"), also checked end to end through the store's request builder.
@Suite struct S3SignerTests {
    static let suiteSigner = S3Signer(
        credentials: S3Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1", service: "service")

    static var vectorDirectory: URL {
        Bundle.module.url(forResource: "sigv4", withExtension: nil, subdirectory: "Resources")
            ?? Bundle.module.resourceURL!.appendingPathComponent("Resources/sigv4")
    }

    static let vectorNames: [String] = {
        (try? FileManager.default.contentsOfDirectory(atPath: vectorDirectory.path))?.filter { !$0.hasSuffix(".md") }.sorted() ?? []
    }()

    /// A request of the suite's `.req` format: request line, `Name:value` header lines, blank line, body.
    struct RawRequest {
        var method: String
        var path: String
        var query: [(String, String)]
        var headers: S3Signer.Headers
        var body: [UInt8]

        init(_ text: String) {
            let parts = text.components(separatedBy: "\n\n")
            var lines = parts[0].components(separatedBy: "\n")
            let requestLine = lines.removeFirst()
            let firstSpace = requestLine.firstIndex(of: " ")!
            method = String(requestLine[..<firstSpace])
            var target = String(requestLine[requestLine.index(after: firstSpace)...])
            if target.hasSuffix(" HTTP/1.1") { target.removeLast(" HTTP/1.1".count) }
            if let q = target.firstIndex(of: "?") {
                path = String(target[..<q])
                query = target[target.index(after: q)...].split(separator: "&").map { pair in
                    if let eq = pair.firstIndex(of: "=") { return (String(pair[..<eq]), String(pair[pair.index(after: eq)...])) }
                    return (String(pair), "")
                }
            } else {
                path = target
                query = []
            }
            headers = lines.map { line in
                let colon = line.firstIndex(of: ":")!
                return (name: String(line[..<colon]), value: String(line[line.index(after: colon)...]))
            }
            body = parts.count > 1 ? Array(parts[1...].joined(separator: "\n\n").utf8) : []
        }
    }

    @Test func vectorsArePresent() {
        #expect(Self.vectorNames.count >= 15, "found \(Self.vectorNames) in \(Self.vectorDirectory.path)")
        #expect(Self.vectorNames.contains("get-vanilla"))
    }

    @Test(arguments: vectorNames)
    func awsTestSuiteVector(name: String) throws {
        let dir = Self.vectorDirectory.appendingPathComponent(name)
        func file(_ ext: String) throws -> String {
            try String(contentsOf: dir.appendingPathComponent("\(name).\(ext)"), encoding: .utf8)
        }
        let request = RawRequest(try file("req"))
        let signer = Self.suiteSigner
        let payloadHash = S3Signer.hash(request.body)
        let timestamp = request.headers.first { $0.name.lowercased() == "x-amz-date" }!.value
        let creq = signer.canonicalRequest(method: request.method, path: request.path, query: request.query,
                                           headers: request.headers, payloadHash: payloadHash)
        #expect(creq == (try file("creq")), "canonical request of \(name)")
        #expect(signer.stringToSign(canonicalRequest: creq, timestamp: timestamp) == (try file("sts")), "string to sign of \(name)")
        #expect(signer.authorization(method: request.method, path: request.path, query: request.query, headers: request.headers,
                                     payloadHash: payloadHash, timestamp: timestamp) == (try file("authz")), "authorization of \(name)")
    }

    /// `sign` adds the date and session token headers itself: the suite's
    /// session-token vector, signed from a request without them.
    @Test func signAddsDateAndSessionToken() throws {
        let name = "post-sts-header-before"
        let dir = Self.vectorDirectory.appendingPathComponent(name)
        let full = RawRequest(try String(contentsOf: dir.appendingPathComponent("\(name).req"), encoding: .utf8))
        let token = full.headers.first { $0.name == "X-Amz-Security-Token" }!.value
        var signer = Self.suiteSigner
        signer.credentials.sessionToken = token
        var headers: S3Signer.Headers = [(name: "Host", value: "example.amazonaws.com")]
        // 2015-08-30T12:36:00Z
        signer.sign(method: "POST", path: "/", query: [], headers: &headers, payloadHash: S3Signer.emptyPayloadHash, time: 1_440_938_160)
        #expect(headers.first { $0.name == "x-amz-date" }?.value == "20150830T123600Z")
        #expect(headers.first { $0.name == "x-amz-security-token" }?.value == token)
        #expect(headers.last?.name == "Authorization")
        #expect(headers.last?.value == (try String(contentsOf: dir.appendingPathComponent("\(name).authz"), encoding: .utf8)))
    }

    // MARK: - S3 API reference examples

    static let s3Credentials = S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE",
                                             secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    static let may24 = 1_369_353_600 // 2013-05-24T00:00:00Z

    struct S3Example: Sendable, CustomTestStringConvertible {
        var name: String
        var method: String
        var key: String?
        var query: [(String, String)]
        var headers: [(name: String, value: String)]
        var body: [UInt8]
        var signedHeaders: String
        var signature: String
        var testDescription: String { name }
    }

    static let s3Examples: [S3Example] = [
        S3Example(name: "GET object", method: "GET", key: "test.txt", query: [], headers: [(name: "range", value: "bytes=0-9")], body: [],
                  signedHeaders: "host;range;x-amz-content-sha256;x-amz-date",
                  signature: "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
        S3Example(name: "PUT object", method: "PUT", key: "test$file.text", query: [],
                  headers: [(name: "date", value: "Fri, 24 May 2013 00:00:00 GMT"), (name: "x-amz-storage-class", value: "REDUCED_REDUNDANCY")],
                  body: Array("Welcome to Amazon S3.".utf8),
                  signedHeaders: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                  signature: "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
        S3Example(name: "GET bucket lifecycle", method: "GET", key: nil, query: [("lifecycle", "")], headers: [], body: [],
                  signedHeaders: "host;x-amz-content-sha256;x-amz-date",
                  signature: "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
        S3Example(name: "GET bucket (list objects)", method: "GET", key: nil, query: [("max-keys", "2"), ("prefix", "J")], headers: [], body: [],
                  signedHeaders: "host;x-amz-content-sha256;x-amz-date",
                  signature: "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
    ]

    /// The signer alone, on the examples' virtual-hosted requests.
    @Test(arguments: s3Examples)
    func s3ReferenceExample(example: S3Example) {
        let signer = S3Signer(credentials: Self.s3Credentials, region: "us-east-1")
        var headers: S3Signer.Headers = [(name: "host", value: "examplebucket.s3.amazonaws.com"),
                                         (name: "x-amz-content-sha256", value: S3Signer.hash(example.body))]
        headers.append(contentsOf: example.headers)
        signer.sign(method: example.method, path: "/" + (example.key ?? ""), query: example.query, headers: &headers,
                    payloadHash: S3Signer.hash(example.body), time: Self.may24)
        #expect(headers.last?.value == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=\(example.signedHeaders), Signature=\(example.signature)")
    }

    /// The store's request builder produces the examples' URL, Host and signature
    /// with virtual-hosted addressing, and the path-style equivalent with path-style.
    @Test(arguments: s3Examples)
    func requestBuilderMatchesReferenceExample(example: S3Example) throws {
        var c = S3Configuration(bucket: "examplebucket", region: "us-east-1", endpoint: "https://s3.amazonaws.com",
                                addressing: .virtualHosted, credentials: Self.s3Credentials)
        let client = try S3Client(configuration: c, credentials: Self.s3Credentials)
        let request = S3Request(example.method == "PUT" ? .PUT : .GET, key: example.key, query: example.query,
                                headers: example.headers, body: example.method == "PUT" ? example.body[...] : nil)
        let (url, headers) = client.prepare(request, payloadHash: S3Signer.hash(example.body), time: Self.may24)
        let query = example.query.isEmpty ? "" : "?" + S3Signer.encodeQuery(example.query)
        #expect(url == "https://examplebucket.s3.amazonaws.com/" + S3Signer.encodePath(example.key ?? "") + query)
        #expect(headers.first { $0.name == "host" }?.value == "examplebucket.s3.amazonaws.com")
        #expect(headers.last?.value.hasSuffix("Signature=\(example.signature)") == true)

        c.addressing = .pathStyle
        c.endpoint = "http://127.0.0.1:9000/base/"
        let pathClient = try S3Client(configuration: c, credentials: Self.s3Credentials)
        let (pathURL, pathHeaders) = pathClient.prepare(request, payloadHash: S3Signer.hash(example.body), time: Self.may24)
        #expect(pathURL == "http://127.0.0.1:9000/base/examplebucket" + (example.key.map { "/" + S3Signer.encodePath($0) } ?? "") + query)
        #expect(pathHeaders.first { $0.name == "host" }?.value == "127.0.0.1:9000")
    }

    @Test func encodingFollowsSigV4() {
        #expect(S3Signer.encodePath("/a b/c+d/é~_.-") == "/a%20b/c%2Bd/%C3%A9~_.-")
        #expect(S3Signer.encodeQuery([("prefix", "data/x y"), ("continuation-token", "a+b=c/d"), ("uploads", "")])
                == "continuation-token=a%2Bb%3Dc%2Fd&prefix=data%2Fx%20y&uploads=")
        #expect(S3Signer.timestamp(0) == "19700101T000000Z")
        #expect(S3Signer.timestamp(Self.may24) == "20130524T000000Z")
    }
}
