import Floe

/// Where and how an `S3ObjectStore` talks to S3 or an S3-compatible service
/// (MinIO, Ceph RGW, moto, ...). docs/s3.md describes every field.
public struct S3Configuration: Sendable, Equatable {
    /// How the bucket is named in a request.
    public enum Addressing: Sendable, Equatable {
        /// `https://bucket.host/key` (AWS's default; needs DNS for the bucket name).
        case virtualHosted
        /// `https://host/bucket/key` (MinIO, moto and most self-hosted services).
        case pathStyle
        /// Path-style when `endpoint` is set, virtual-hosted for AWS's own endpoint.
        case automatic
    }

    /// The bucket; it must exist.
    public var bucket: String
    /// Key prefix of the store inside the bucket: object `data/1.sst` is key
    /// `prefix + "data/1.sst"`. Empty, or normalised to end in `/`.
    public var prefix: String
    /// The region requests are signed for.
    public var region: String
    /// `scheme://host[:port][/path]` of the service; nil means AWS (`https://s3.<region>.amazonaws.com`).
    public var endpoint: String?
    public var addressing: Addressing
    /// Credentials; nil resolves them as `S3Credentials.resolve` describes.
    public var credentials: S3Credentials?
    /// Profile of the shared credentials file when `credentials` is nil and the environment has none.
    public var profile: String?

    /// Objects larger than this are uploaded in parts (multipart upload).
    public var multipartThreshold: Int = 64 << 20
    /// Size of each part but the last. AWS requires at least 5 MiB.
    public var partSize: Int = 16 << 20
    /// Parts of one upload in flight at once.
    public var maxConcurrentParts: Int = 4
    /// Connections kept and opened per host (the pool's bound).
    public var maxConnections: Int = 32
    /// Seconds one request (connect, send, whole response) may take before it is abandoned and retried.
    public var requestTimeout: Double = 30
    /// Seconds to establish a connection.
    public var connectTimeout: Double = 5
    public var retry = S3RetryPolicy()
    /// Keys per ListObjectsV2 page (1...1000); tests make it small to exercise continuation tokens.
    public var listPageSize: Int = 1000
    /// A local disk cache in front of the bucket (`DiskCachedObjectStore`), or nil
    /// for none. `S3ObjectStore` itself ignores it: `FloeStoreURL.objectStore(for:)`
    /// and `S3Configuration.objectStore()` wrap the store in the cache.
    public var diskCache: DiskCacheOptions?

    public init(bucket: String, prefix: String = "", region: String = "us-east-1", endpoint: String? = nil,
                addressing: Addressing = .automatic, credentials: S3Credentials? = nil, profile: String? = nil) {
        self.bucket = bucket
        self.prefix = prefix
        self.region = region
        self.endpoint = endpoint
        self.addressing = addressing
        self.credentials = credentials
        self.profile = profile
    }

    /// The prefix as used in keys: empty or ending in one `/`, no leading `/`.
    var normalizedPrefix: String {
        var p = Substring(prefix)
        while p.hasPrefix("/") { p.removeFirst() }
        while p.hasSuffix("/") { p.removeLast() }
        return p.isEmpty ? "" : String(p) + "/"
    }

    /// Throws `FloeError.invalidArgument` for values no request could use.
    func validate() throws {
        if bucket.isEmpty || bucket.contains("/") {
            throw FloeError.invalidArgument("S3 bucket name must be non-empty without '/': \(bucket.debugDescription)")
        }
        if region.isEmpty { throw FloeError.invalidArgument("S3 region is empty") }
        if partSize < 1 || multipartThreshold < 1 || maxConcurrentParts < 1 || maxConnections < 1 {
            throw FloeError.invalidArgument("S3 part size, multipart threshold, concurrent parts and connections must be positive")
        }
        if !(requestTimeout > 0) || !(connectTimeout > 0) {
            throw FloeError.invalidArgument("S3 timeouts must be positive")
        }
        if !(1...1000).contains(listPageSize) { throw FloeError.invalidArgument("S3 list page size must be 1...1000") }
        try retry.validate()
        try diskCache?.validate()
    }
}

/// Retries of failed requests: capped exponential backoff with full jitter
/// (each wait uniform in `0 ... min(maxDelay, baseDelay * 2^(attempt - 1))`).
///
/// Retried: 5xx responses, 429 and `SlowDown`, `RequestTimeout`, connection
/// failures and resets, truncated bodies and timeouts; a conditional put's
/// 409 `ConditionalRequestConflict`. Not retried: every other 4xx.
public struct S3RetryPolicy: Sendable, Equatable {
    /// Attempts per request, the first included.
    public var maxAttempts: Int = 10
    /// Seconds; the ceiling of the first wait.
    public var baseDelay: Double = 0.05
    /// Seconds; no wait is longer.
    public var maxDelay: Double = 5

    public init(maxAttempts: Int = 10, baseDelay: Double = 0.05, maxDelay: Double = 5) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// Seconds to wait after failed attempt `attempt` (1-based), `unit` uniform in [0, 1).
    public func delay(afterAttempt attempt: Int, unit: Double) -> Double {
        let exponent = min(max(attempt - 1, 0), 30)
        let ceiling = min(maxDelay, baseDelay * Double(1 << exponent))
        return ceiling * unit
    }

    func validate() throws {
        if maxAttempts < 1 { throw FloeError.invalidArgument("S3 retry attempts must be at least 1") }
        if baseDelay < 0 || maxDelay < 0 { throw FloeError.invalidArgument("S3 retry delays must not be negative") }
    }
}

extension S3Configuration {
    /// Names the bucket and prefix in disk cache entries: `s3://<endpoint or aws:region>/<bucket>/<prefix>`,
    /// so one cache directory never serves one store's bytes for another's objects.
    public var diskCacheNamespace: String {
        "s3://" + (endpoint ?? "aws:" + region) + "/" + bucket + "/" + normalizedPrefix
    }

    /// The object store this configuration names: an `S3ObjectStore`, wrapped in a
    /// `DiskCachedObjectStore` when `diskCache` is set.
    /// - Throws: as `S3ObjectStore.init` and `DiskCachedObjectStore.init`.
    public func objectStore() throws -> any ObjectStore {
        let s3 = try S3ObjectStore(self)
        guard let diskCache else { return s3 }
        return try DiskCachedObjectStore(remote: s3, namespace: diskCacheNamespace, options: diskCache)
    }
}
