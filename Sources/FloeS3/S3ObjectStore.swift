import Crypto
import Floe
import NIOHTTP1
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An object store in an S3 bucket (AWS S3 or any S3-compatible service):
/// object `data/1.sst` is key `<prefix>data/1.sst`. docs/s3.md has the set-up.
///
/// How it keeps the `ObjectStore` contract:
/// - **Whole or nothing.** S3 makes an object visible only once its PUT (or
///   its multipart upload's completion) succeeded, and never shows a prefix.
/// - **Durable on return.** S3 acknowledges a PUT after it stored the object.
/// - **`createIfAbsent` is atomic.** PutObject with `If-None-Match: *`: 200
///   created it, 412 `PreconditionFailed` means an object exists, 409
///   `ConditionalRequestConflict` (a concurrent conditional write) is retried.
///   A **lost acknowledgement** (an attempt that failed after it may have been
///   sent: a reset, a timeout, a 5xx) followed by a 412 is settled by reading
///   the object back: if it holds exactly these bytes, this call's earlier
///   attempt created it and the answer is `true`; else another writer did, and
///   the answer is `false`. (Two callers writing byte-identical objects could
///   then both get `true`; Floe's manifest records carry their session and
///   time, so no two writers write the same bytes.) If the read-back fails,
///   the call throws and the manifest's own lost-acknowledgement check
///   (docs/format.md §8.3) takes over.
/// - **Ranged reads** send `Range: bytes=a-b` and expect 206 with exactly the
///   bytes asked for; a range past the end is `FloeError.corruption`.
///
/// Requests are signed with AWS Signature Version 4 (`S3Signer`), retried with
/// capped exponential backoff and jitter (`S3RetryPolicy`), bounded by a
/// per-request timeout, and share a bounded connection pool. Errors name the
/// object (`s3://bucket/key`) and the HTTP status; a missing object is
/// `FloeError.objectNotFound(path)`. Credentials appear in no error and no log.
///
/// Call `shutdown()` when done; a store that is dropped shuts its HTTP client
/// down in the background.
public final class S3ObjectStore: ObjectStore {
    public let configuration: S3Configuration
    /// Where the credentials came from (never the credentials).
    public let credentialSource: S3Credentials.Source
    let client: S3Client
    private let keyPrefix: String

    /// A store over `configuration`; credentials resolve from the configuration,
    /// the environment or the shared credentials file (`S3Credentials.resolve`).
    /// Sends no request: a missing bucket shows at the first operation.
    /// - Throws: `FloeError.invalidArgument` for an unusable configuration or no credentials.
    public convenience init(_ configuration: S3Configuration) throws {
        try self.init(configuration, environment: S3ObjectStore.processEnvironment())
    }

    /// As `init(_:)`, with the environment variables given.
    public init(_ configuration: S3Configuration, environment: [String: String]) throws {
        try configuration.validate()
        let (credentials, source) = try S3Credentials.resolve(explicit: configuration.credentials,
                                                              profile: configuration.profile, environment: environment)
        self.configuration = configuration
        self.credentialSource = source
        self.keyPrefix = configuration.normalizedPrefix
        self.client = try S3Client(configuration: configuration, credentials: credentials)
    }

    /// Closes the connections. Later calls fail.
    public func shutdown() async throws { try await client.shutdown() }

    /// Counters of the requests sent so far.
    public var statistics: S3Statistics { client.counters.snapshot }

    /// `s3://bucket/prefix`, for messages and tools.
    public var url: String { "s3://\(configuration.bucket)/\(keyPrefix)" }

    private func key(_ path: String) -> String { keyPrefix + path }

    // MARK: - Writes

    /// Writes (or replaces) the whole object: one PUT, or a multipart upload
    /// above `multipartThreshold` (parts in parallel; aborted on failure).
    /// - Throws: `FloeError.invalidArgument` for a bad path, `FloeError.io` on failure.
    public func put(_ path: String, _ bytes: [UInt8]) async throws {
        try ObjectPath.validate(path)
        if bytes.count > configuration.multipartThreshold {
            try await multipartPut(key(path), bytes)
            return
        }
        let sent = try await client.send(S3Request(.PUT, key: key(path), body: bytes[...]), operation: "PUT")
        try expect(sent.response, [200], "PUT", key(path))
    }

    /// Creates the object only if no object is at `path` (`If-None-Match: *`).
    /// - Returns: `true` if this call created it, `false` if an object was there.
    /// - Throws: `FloeError.invalidArgument` for a bad path, `FloeError.io` on failure.
    public func createIfAbsent(_ path: String, _ bytes: [UInt8]) async throws -> Bool {
        try ObjectPath.validate(path)
        let k = key(path)
        let request = S3Request(.PUT, key: k, headers: [(name: "if-none-match", value: "*")], body: bytes[...])
        let sent = try await client.send(request, operation: "conditional PUT", retryConflicts: true)
        switch sent.response.status {
        case 200, 201, 204:
            return true
        case 412:
            guard sent.ambiguous else { return false }
            // An earlier attempt may have created the object and lost its reply.
            let existing: [UInt8]
            do {
                existing = try await get(path)
            } catch {
                throw FloeError.io(path: client.describe(k), reason: "conditional PUT: an attempt failed without an answer and the "
                    + "object could not be read back to settle it: \(error)")
            }
            client.counters.settledByReadBack.add(1, ordering: .relaxed)
            return existing == bytes
        default:
            throw failure(sent.response, "conditional PUT", k)
        }
    }

    /// Deletes the object; a missing object is not an error.
    /// - Throws: `FloeError.invalidArgument` for a bad path, `FloeError.io` on failure.
    public func delete(_ path: String) async throws {
        try ObjectPath.validate(path)
        let sent = try await client.send(S3Request(.DELETE, key: key(path)), operation: "DELETE")
        // 404 NoSuchKey: some services report a missing key; S3 answers 204.
        if sent.response.status == 404 && sent.response.error?.code == "NoSuchKey" { return }
        try expect(sent.response, [200, 204], "DELETE", key(path))
    }

    /// Deletes many objects with DeleteObjects, up to 1000 per request, one
    /// request after another; a missing object is not an error. Every path is
    /// validated before the first request. If a request fails, the objects of
    /// earlier requests are gone and those of later ones untouched.
    /// - Throws: `FloeError.invalidArgument` for a bad path, `FloeError.io` naming
    ///   the first object S3 could not delete.
    public func delete(_ paths: [String]) async throws {
        for path in paths { try ObjectPath.validate(path) }
        var start = 0
        while start < paths.count {
            let batch = paths[start..<min(start + 1000, paths.count)]
            start += batch.count
            var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>"
            for path in batch { xml += "<Object><Key>\(S3XML.escape(key(path)))</Key></Object>" }
            xml += "</Delete>"
            let body = Array(xml.utf8)
            let md5 = Self.base64(Array(Insecure.MD5.hash(data: body)))
            let request = S3Request(.POST, key: nil, query: [("delete", "")],
                                    headers: [(name: "content-md5", value: md5), (name: "content-type", value: "application/xml")],
                                    body: body[...])
            let sent = try await client.send(request, operation: "DeleteObjects")
            try expect(sent.response, [200], "DeleteObjects", nil)
            let root = try parse(sent.response.body, "DeleteObjects", nil)
            if let error = root.children("Error").first {
                let k = error.text(of: "Key") ?? ""
                throw FloeError.io(path: client.describe(k), reason: "DeleteObjects: \(error.text(of: "Code") ?? "error"): "
                    + (error.text(of: "Message") ?? ""))
            }
        }
    }

    // MARK: - Reads

    /// Reads the whole object.
    /// - Throws: `FloeError.objectNotFound(path)` if missing, `FloeError.io` on failure.
    public func get(_ path: String) async throws -> [UInt8] {
        try ObjectPath.validate(path)
        let sent = try await client.send(S3Request(.GET, key: key(path)), operation: "GET")
        try expect(sent.response, [200], "GET", key(path), notFound: path)
        return sent.response.body
    }

    /// Reads `range` of the object with a `Range` request (206).
    /// - Throws: `FloeError.corruption(object:offset:reason:)` with `offset == range.lowerBound`
    ///   if `range` ends past the object's end; `FloeError.objectNotFound(path)` if missing;
    ///   `FloeError.invalidArgument` for a negative range; `FloeError.io` on failure.
    public func get(_ path: String, range: Range<Int>) async throws -> [UInt8] {
        try ObjectPath.validate(path)
        try ObjectPath.validate(range, of: path)
        if range.isEmpty {
            // No Range header names zero bytes; the size decides.
            let size = try await size(path)
            if range.upperBound > size { throw pastEnd(path, range, size: size) }
            return []
        }
        let k = key(path)
        let request = S3Request(.GET, key: k, headers: [(name: "range", value: "bytes=\(range.lowerBound)-\(range.upperBound - 1)")])
        let sent = try await client.send(request, operation: "ranged GET")
        let response = sent.response
        switch response.status {
        case 206:
            if response.body.count == range.count { return response.body }
            let total = Self.contentRangeTotal(response.headers)
            if response.body.count < range.count, let total, total < range.upperBound {
                throw pastEnd(path, range, size: total)
            }
            throw FloeError.io(path: client.describe(k), reason: "ranged GET \(range.lowerBound)..<\(range.upperBound): "
                + "206 with \(response.body.count) bytes" + (total.map { " of an object of \($0)" } ?? ""))
        case 200:
            // A service that ignores Range sends the whole object.
            if response.body.count >= range.upperBound { return Array(response.body[range]) }
            throw pastEnd(path, range, size: response.body.count)
        case 416:
            let size = try await Self.contentRangeTotal(response.headers).asyncOr { try await self.size(path) }
            throw pastEnd(path, range, size: size)
        default:
            throw failure(response, "ranged GET", k, notFound: path)
        }
    }

    /// Size in bytes of the object (HEAD).
    /// - Throws: `FloeError.objectNotFound(path)` if missing, `FloeError.io` on failure.
    public func size(_ path: String) async throws -> Int {
        try ObjectPath.validate(path)
        let sent = try await client.send(S3Request(.HEAD, key: key(path)), operation: "HEAD")
        try expect(sent.response, [200], "HEAD", key(path), notFound: path)
        guard let size = sent.response.headers.first(name: "content-length").flatMap({ Int($0) }) else {
            throw FloeError.io(path: client.describe(key(path)), reason: "HEAD: no Content-Length")
        }
        return size
    }

    /// Every object whose path starts with `prefix`, sorted by path
    /// (ListObjectsV2, following continuation tokens). Keys under the store's
    /// prefix that are no valid object path (`dir/` markers) are skipped.
    /// - Throws: `FloeError.invalidArgument` for a bad prefix, `FloeError.io` on failure.
    public func list(prefix: String) async throws -> [ObjectInfo] {
        try ObjectPath.validatePrefix(prefix)
        var found: [ObjectInfo] = []
        var token: String?
        repeat {
            var query: [(String, String)] = [("list-type", "2"), ("prefix", key(prefix)),
                                             ("max-keys", String(configuration.listPageSize))]
            if let token { query.append(("continuation-token", token)) }
            let sent = try await client.send(S3Request(.GET, key: nil, query: query), operation: "ListObjectsV2")
            try expect(sent.response, [200], "ListObjectsV2", key(prefix))
            let root = try parse(sent.response.body, "ListObjectsV2", key(prefix))
            for entry in root.children("Contents") {
                guard let k = entry.text(of: "Key"), k.hasPrefix(keyPrefix) else { continue }
                let path = String(k.dropFirst(keyPrefix.count))
                guard (try? ObjectPath.validate(path)) != nil else { continue }
                let size = entry.text(of: "Size").flatMap { Int($0) } ?? 0
                // An object whose time cannot be read counts as new: GC and lease expiry wait for it.
                let modified = entry.text(of: "LastModified").flatMap(Self.modifiedAtLatest) ?? Double(time(nil)) + 1
                found.append(ObjectInfo(path: path, size: size, modified: modified))
            }
            let truncated = root.text(of: "IsTruncated") == "true"
            token = truncated ? root.text(of: "NextContinuationToken") : nil
            if truncated && (token ?? "").isEmpty {
                throw FloeError.io(path: client.describe(key(prefix)), reason: "ListObjectsV2: truncated page without a continuation token")
            }
        } while token != nil
        found.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        return found
    }

    // MARK: - Service checks

    /// Checks that the service honours `If-None-Match: *` on PutObject, which
    /// fencing relies on (AWS S3 does since 2024; some S3-compatible services
    /// ignore the header and would let two writers both "create" a manifest
    /// record): creates a probe object under `.floe-probe/` twice, expects the
    /// second to be refused, and deletes it.
    /// - Throws: `FloeError.io` naming the service's answer if the second create succeeded or the probe failed.
    public func checkConditionalWrites() async throws {
        let path = ".floe-probe/\(String(UInt64.random(in: 0 ... .max), radix: 16))"
        let first = try await createIfAbsent(path, [1])
        let second = try await createIfAbsent(path, [2])
        try await delete(path)
        guard first, !second else {
            throw FloeError.io(path: client.describe(key(path)), reason: "the service does not honour If-None-Match: * on PutObject "
                + "(first create \(first ? "created" : "refused"), second \(second ? "created" : "refused")): "
                + "two writers could both append the same manifest record, so Floe cannot fence writers on it")
        }
    }

    // MARK: - Buckets

    /// Creates the bucket (tests, first-time set-up). An existing bucket owned by you is not an error.
    /// - Throws: `FloeError.io` on failure.
    public func createBucket() async throws {
        var body: ArraySlice<UInt8> = []
        if configuration.region != "us-east-1" {
            body = Array(("<CreateBucketConfiguration><LocationConstraint>\(S3XML.escape(configuration.region))"
                + "</LocationConstraint></CreateBucketConfiguration>").utf8)[...]
        }
        let sent = try await client.send(S3Request(.PUT, key: nil, body: body), operation: "CreateBucket")
        if sent.response.status == 409, sent.response.error?.code == "BucketAlreadyOwnedByYou" { return }
        try expect(sent.response, [200], "CreateBucket", nil)
    }

    // MARK: - Multipart upload

    private func multipartPut(_ k: String, _ bytes: [UInt8]) async throws {
        let created = try await client.send(S3Request(.POST, key: k, query: [("uploads", "")], body: []),
                                            operation: "CreateMultipartUpload")
        try expect(created.response, [200], "CreateMultipartUpload", k)
        guard let uploadID = try parse(created.response.body, "CreateMultipartUpload", k).text(of: "UploadId"), !uploadID.isEmpty else {
            throw FloeError.io(path: client.describe(k), reason: "CreateMultipartUpload: no UploadId in the response")
        }
        do {
            let etags = try await uploadParts(k, uploadID, bytes)
            try await completeUpload(k, uploadID, etags, bytes)
        } catch {
            // Best effort: an upload left behind costs storage until a bucket
            // lifecycle rule removes it, never correctness.
            _ = try? await client.send(S3Request(.DELETE, key: k, query: [("uploadId", uploadID)]), operation: "AbortMultipartUpload")
            throw error
        }
    }

    /// Uploads the parts, at most `maxConcurrentParts` at once; returns their ETags in part order.
    private func uploadParts(_ k: String, _ uploadID: String, _ bytes: [UInt8]) async throws -> [String] {
        let partSize = configuration.partSize
        let count = (bytes.count + partSize - 1) / partSize
        var etags = [String](repeating: "", count: count)
        try await withThrowingTaskGroup(of: (Int, String).self) { group in
            var next = 0
            func addPart() {
                let index = next
                next += 1
                let part = bytes[(index * partSize)..<min((index + 1) * partSize, bytes.count)]
                let request = S3Request(.PUT, key: k, query: [("partNumber", String(index + 1)), ("uploadId", uploadID)], body: part)
                group.addTask { [client] in
                    let sent = try await client.send(request, operation: "UploadPart \(index + 1)")
                    guard sent.response.status == 200, let etag = sent.response.headers.first(name: "etag") else {
                        throw S3ObjectStore.failure(sent.response, "UploadPart \(index + 1)", k, client: client)
                    }
                    return (index, etag)
                }
            }
            while next < min(count, configuration.maxConcurrentParts) { addPart() }
            while let (index, etag) = try await group.next() {
                etags[index] = etag
                if next < count { addPart() }
            }
        }
        return etags
    }

    private func completeUpload(_ k: String, _ uploadID: String, _ etags: [String], _ bytes: [UInt8]) async throws {
        var xml = "<CompleteMultipartUpload>"
        for (i, etag) in etags.enumerated() {
            xml += "<Part><PartNumber>\(i + 1)</PartNumber><ETag>\(S3XML.escape(etag))</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let request = S3Request(.POST, key: k, query: [("uploadId", uploadID)], body: Array(xml.utf8)[...])
        // S3 may answer 200 and still fail: the error is then in the body.
        for _ in 0..<configuration.retry.maxAttempts {
            let sent = try await client.send(request, operation: "CompleteMultipartUpload")
            if sent.response.status == 200 {
                if let root = try? S3XML.parse(sent.response.body), root.name == "Error" { continue }
                return
            }
            if sent.response.status == 404, sent.response.error?.code == "NoSuchUpload", sent.ambiguous {
                // An earlier attempt completed it and lost the reply: the object must be there, with our size.
                let size = try await client.send(S3Request(.HEAD, key: k), operation: "HEAD")
                if size.response.status == 200, size.response.headers.first(name: "content-length") == String(bytes.count) { return }
            }
            throw failure(sent.response, "CompleteMultipartUpload", k)
        }
        throw FloeError.io(path: client.describe(k), reason: "CompleteMultipartUpload: answered 200 with an error body "
            + "\(configuration.retry.maxAttempts) times")
    }

    // MARK: - Helpers

    /// Throws unless `response.status` is one of `statuses`; 404 becomes
    /// `objectNotFound(notFound)` when `notFound` names the object.
    private func expect(_ response: S3Response, _ statuses: [Int], _ operation: String, _ k: String?,
                        notFound: String? = nil) throws {
        if statuses.contains(response.status) { return }
        throw failure(response, operation, k, notFound: notFound)
    }

    private func failure(_ response: S3Response, _ operation: String, _ k: String?, notFound: String? = nil) -> FloeError {
        if response.status == 404, let notFound, response.error?.code != "NoSuchBucket" {
            return .objectNotFound(notFound)
        }
        return Self.failure(response, operation, k, client: client)
    }

    fileprivate static func failure(_ response: S3Response, _ operation: String, _ k: String?, client: S3Client) -> FloeError {
        .io(path: client.describe(k), reason: "\(operation): \(response.summary)")
    }

    private func parse(_ body: [UInt8], _ operation: String, _ k: String?) throws -> S3XMLElement {
        do { return try S3XML.parse(body) } catch {
            throw FloeError.io(path: client.describe(k), reason: "\(operation): \(error)")
        }
    }

    private func pastEnd(_ path: String, _ range: Range<Int>, size: Int) -> FloeError {
        .corruption(object: path, offset: range.lowerBound,
                    reason: "object is \(size) bytes, range \(range.lowerBound)..<\(range.upperBound) runs past its end")
    }

    /// The total of `Content-Range: bytes a-b/total` or `bytes */total`.
    static func contentRangeTotal(_ headers: HTTPHeaders) -> Int? {
        guard let value = headers.first(name: "content-range"), let slash = value.lastIndex(of: "/") else { return nil }
        return Int(value[value.index(after: slash)...])
    }

    /// The latest time an object listed with `LastModified` `text` can have been
    /// written. S3 (and moto) give whole seconds (`...:56.000Z`): the write happened
    /// somewhere in that second, so a time without a non-zero fraction is moved to
    /// the second's end. `ObjectInfo.modified` is then never earlier than the write,
    /// which is what GC's grace period and lease expiry assume: with the truncated
    /// time an SST uploaded 0.9 s into a second looked 0.9 s older than it was, and
    /// a grace under a second (the crash test's 0.5 s) let GC delete an SST between
    /// its upload and the commit that referenced it (`floe crashtest --store-url`
    /// found it). Clock skew between the service and this machine is not covered:
    /// keep the grace well above it.
    static func modifiedAtLatest(_ text: String) -> Double? {
        guard let t = parseTimestamp(text) else { return nil }
        return t == t.rounded(.down) ? t + 1 : t
    }

    /// Seconds since 1970 of an ISO 8601 UTC time (`2024-05-01T12:34:56.789Z`).
    static func parseTimestamp(_ text: String) -> Double? {
        let u = Array(text.utf8)
        guard u.count >= 19 else { return nil }
        func number(_ r: Range<Int>) -> Int32? { Int32(String(decoding: u[r], as: UTF8.self)) }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19) else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        var fraction = 0.0
        if u.count > 20, u[19] == UInt8(ascii: ".") {
            var i = 20, scale = 0.1
            while i < u.count, u[i] >= UInt8(ascii: "0"), u[i] <= UInt8(ascii: "9") {
                fraction += Double(u[i] - UInt8(ascii: "0")) * scale
                scale /= 10
                i += 1
            }
        }
        return Double(timegm(&parts)) + fraction
    }

    static func base64(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i])
            let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
            let n = b0 << 16 | b1 << 8 | b2
            out.append(table[Int(n >> 18 & 63)])
            out.append(table[Int(n >> 12 & 63)])
            out.append(i + 1 < bytes.count ? table[Int(n >> 6 & 63)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? table[Int(n & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func processEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { result[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return result
    }
}

private extension Optional where Wrapped == Int {
    func asyncOr(_ fallback: () async throws -> Int) async throws -> Int {
        if let self { return self }
        return try await fallback()
    }
}
