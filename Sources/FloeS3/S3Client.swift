import AsyncHTTPClient
import Floe
import NIOCore
import NIOHTTP1
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One S3 request before signing.
struct S3Request: Sendable {
    var method: HTTPMethod
    /// The full key (store prefix included); nil addresses the bucket itself.
    var key: String?
    var query: [(String, String)] = []
    /// Extra headers, all signed.
    var headers: [(name: String, value: String)] = []
    /// Sent with `Content-Length` when not nil (an empty body too: S3 wants a length on PUT).
    var body: ArraySlice<UInt8>?

    init(_ method: HTTPMethod, key: String?, query: [(String, String)] = [],
         headers: [(name: String, value: String)] = [], body: ArraySlice<UInt8>? = nil) {
        self.method = method; self.key = key; self.query = query; self.headers = headers; self.body = body
    }
}

/// A complete response: status, headers and the whole body.
struct S3Response: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]

    /// `Code` and `Message` of an S3 `<Error>` body, if the body is one.
    var error: (code: String, message: String)? {
        guard !body.isEmpty, let root = try? S3XML.parse(body), root.name == "Error" else { return nil }
        return (root.text(of: "Code") ?? "", root.text(of: "Message") ?? "")
    }

    /// `HTTP 503 SlowDown: Please reduce your request rate.`
    var summary: String {
        var s = "HTTP \(status)"
        if let (code, message) = error {
            if !code.isEmpty { s += " \(code)" }
            if !message.isEmpty { s += ": \(message)" }
        }
        if let id = headers.first(name: "x-amz-request-id") { s += " (request id \(id))" }
        return s
    }
}

/// Request counters of one store (all attempts, retries included).
public struct S3Statistics: Sendable, Equatable {
    /// Attempts sent (every retry counts).
    public var requests: Int
    /// Attempts that were retried after a failure.
    public var retries: Int
    /// Attempts that failed below HTTP: resets, timeouts, truncated bodies.
    public var transportFailures: Int
    /// `createIfAbsent` calls settled by reading the object back after an unacknowledged attempt.
    public var settledByReadBack: Int
}

/// Atomic counters behind `S3Statistics`.
final class S3Counters: Sendable {
    let requests = Atomic<Int>(0)
    let retries = Atomic<Int>(0)
    let transportFailures = Atomic<Int>(0)
    let settledByReadBack = Atomic<Int>(0)

    var snapshot: S3Statistics {
        S3Statistics(requests: requests.load(ordering: .relaxed), retries: retries.load(ordering: .relaxed),
                     transportFailures: transportFailures.load(ordering: .relaxed),
                     settledByReadBack: settledByReadBack.load(ordering: .relaxed))
    }
}

/// Signs, sends and retries requests for one bucket over one pooled HTTP client.
final class S3Client: Sendable {
    let configuration: S3Configuration
    let endpoint: S3Endpoint
    let signer: S3Signer
    let counters = S3Counters()
    private let http: HTTPClient
    private let pathStyle: Bool

    init(configuration: S3Configuration, credentials: S3Credentials) throws {
        self.configuration = configuration
        if let text = configuration.endpoint {
            endpoint = try S3Endpoint(text)
        } else {
            endpoint = S3Endpoint.aws(region: configuration.region)
        }
        switch configuration.addressing {
        case .pathStyle: pathStyle = true
        case .virtualHosted: pathStyle = false
        case .automatic: pathStyle = configuration.endpoint != nil
        }
        signer = S3Signer(credentials: credentials, region: configuration.region)
        var http = HTTPClient.Configuration()
        http.timeout = .init(connect: .nanoseconds(Int64(configuration.connectTimeout * 1e9)),
                             read: .nanoseconds(Int64(configuration.requestTimeout * 1e9)))
        http.connectionPool = .init(idleTimeout: .seconds(30),
                                    concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maxConnections)
        http.redirectConfiguration = .disallow
        http.decompression = .disabled
        self.http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: http)
    }

    deinit {
        // A client must be shut down before it goes; the callback's closure keeps it alive until then.
        http.shutdown { _ in }
    }

    func shutdown() async throws {
        do {
            try await http.shutdown()
        } catch let error as HTTPClientError where error == .alreadyShutdown {
            // Shut down before: nothing to do.
        }
    }

    /// `s3://bucket/key`, for messages.
    func describe(_ key: String?) -> String { "s3://\(configuration.bucket)/\(key ?? "")" }

    // MARK: - Sending with retries

    /// The outcome of `send`: the response that ended the retries and whether an
    /// earlier attempt failed in a way that may have let it take effect (a
    /// transport failure or a 5xx after the request was sent).
    struct Sent: Sendable {
        var response: S3Response
        var ambiguous: Bool
        var attempts: Int
    }

    /// Sends `request` until a response that is not retried arrives, and returns it
    /// (2xx, 3xx, and every 4xx but 429 and, with `retryConflicts`, 409).
    /// - Throws: `FloeError.io` naming the bucket, key and last status (or
    ///   transport error) when the attempts run out; `CancellationError` if the task is cancelled.
    func send(_ request: S3Request, operation: String, retryConflicts: Bool = false) async throws -> Sent {
        let policy = configuration.retry
        var ambiguous = false
        var attempt = 0
        while true {
            attempt += 1
            try Task.checkCancellation()
            counters.requests.add(1, ordering: .relaxed)
            let failure: String
            do {
                let response = try await once(request)
                guard Self.isRetried(response, retryConflicts: retryConflicts) else {
                    return Sent(response: response, ambiguous: ambiguous, attempts: attempt)
                }
                if response.status >= 500 { ambiguous = true }
                failure = response.summary
            } catch let error as CancellationError {
                throw error
            } catch {
                if Task.isCancelled { throw CancellationError() }
                counters.transportFailures.add(1, ordering: .relaxed)
                ambiguous = true
                failure = Self.describeTransport(error)
            }
            if attempt >= policy.maxAttempts {
                throw FloeError.io(path: describe(request.key),
                                   reason: "\(operation) failed after \(attempt) attempt\(attempt == 1 ? "" : "s"): \(failure)")
            }
            counters.retries.add(1, ordering: .relaxed)
            let wait = policy.delay(afterAttempt: attempt, unit: Double.random(in: 0..<1))
            if wait > 0 { try await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }
        }
    }

    /// Whether a response is a transient failure worth another attempt.
    static func isRetried(_ response: S3Response, retryConflicts: Bool) -> Bool {
        switch response.status {
        case 500...599, 429: return true
        case 409: return retryConflicts
        case 400:
            // S3 reports an idle upload connection and throttling in 400s too.
            guard let code = response.error?.code else { return false }
            return code == "RequestTimeout" || code == "SlowDown" || code == "Throttling"
        default: return false
        }
    }

    static func describeTransport(_ error: any Error) -> String {
        if let e = error as? HTTPClientError { return "transport: \(e)" }
        if let e = error as? S3TransportError { return "transport: \(e)" }
        return "transport: \(String(describing: error))"
    }

    /// The signed URL and headers of `request` at `now` (seconds since 1970).
    func prepare(_ request: S3Request, payloadHash: String, time now: Int = Int(time(nil))) -> (url: String, headers: S3Signer.Headers) {
        let host: String
        var path = endpoint.basePath
        if pathStyle {
            host = endpoint.authority(host: endpoint.host)
            path += "/" + configuration.bucket
            if let key = request.key { path += "/" + key }
        } else {
            host = endpoint.authority(host: configuration.bucket + "." + endpoint.host)
            path += "/" + (request.key ?? "")
        }
        var headers: S3Signer.Headers = [(name: "host", value: host)]
        headers.append((name: "x-amz-content-sha256", value: payloadHash))
        headers.append(contentsOf: request.headers)
        signer.sign(method: request.method.rawValue, path: path, query: request.query, headers: &headers,
                    payloadHash: payloadHash, time: now)
        var url = "\(endpoint.scheme)://\(host)\(S3Signer.encodePath(path))"
        if !request.query.isEmpty { url += "?" + S3Signer.encodeQuery(request.query) }
        return (url, headers)
    }

    /// One attempt: sign, send, read the whole response within `requestTimeout`.
    private func once(_ request: S3Request) async throws -> S3Response {
        let payloadHash = request.body.map { S3Signer.hash($0) } ?? S3Signer.emptyPayloadHash
        let (url, headers) = prepare(request, payloadHash: payloadHash)
        var r = HTTPClientRequest(url: url)
        r.method = request.method
        for (name, value) in headers { r.headers.add(name: name, value: value) }
        if let body = request.body { r.body = .bytes(body) }
        let timeout = configuration.requestTimeout
        let isHead = request.method == .HEAD
        let http = self.http
        let prepared = r
        return try await withThrowingTaskGroup(of: S3Response?.self) { group in
            group.addTask {
                let response = try await http.execute(prepared, timeout: .nanoseconds(Int64(timeout * 1e9)))
                var buffer = try await response.body.collect(upTo: Int.max)
                let body = buffer.readBytes(length: buffer.readableBytes) ?? []
                if !isHead, let declared = response.headers.first(name: "content-length").flatMap({ Int($0) }),
                   declared != body.count {
                    throw S3TransportError.truncatedBody(expected: declared, received: body.count)
                }
                return S3Response(status: Int(response.status.code), headers: response.headers, body: body)
            }
            group.addTask {
                try await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let response = first else {
                throw S3TransportError.timedOut(seconds: timeout)
            }
            return response
        }
    }
}

/// Failures of one attempt that HTTP itself does not report.
enum S3TransportError: Error, CustomStringConvertible {
    case truncatedBody(expected: Int, received: Int)
    case timedOut(seconds: Double)

    var description: String {
        switch self {
        case let .truncatedBody(expected, received): return "response body truncated: \(received) of \(expected) bytes"
        case let .timedOut(seconds): return "no complete response within \(seconds) s"
        }
    }
}
