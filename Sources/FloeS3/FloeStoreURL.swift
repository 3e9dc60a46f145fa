import Floe

/// Store locations as one string, for APIs and the `floe` tool:
///
/// - `s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1&path-style=1`:
///   an `S3ObjectStore` on `bucket` under key prefix `prefix` (may be empty);
/// - `file:///abs/path`: a `LocalObjectStore` rooted at `/abs/path`;
/// - anything else: a local directory path, taken exactly as given.
///
/// Query parameters of `s3://` (docs/s3.md): `endpoint` (`http[s]://host[:port][/path]`;
/// default `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`, then AWS), `region`
/// (default `AWS_REGION`, then `AWS_DEFAULT_REGION`, then `us-east-1`),
/// `path-style` (`1`/`true`/`0`/`false`; default path-style with an endpoint,
/// virtual-hosted for AWS), `profile` (of the shared credentials file),
/// `multipart-threshold` and `part-size` (bytes), `max-connections`, `timeout`
/// (seconds per request), `retries` (attempts per request), and the local disk
/// cache: `cache-dir` (a directory; turns the cache on), `cache-bytes` (its bound,
/// default 1 GiB) and `cache-write-through` (`1`/`0`, default `0`). Credentials are never
/// part of a URL: they come from the environment or the credentials file.
public enum FloeStoreURL {
    /// Bound of a disk cache whose URL gives `cache-dir` but no `cache-bytes`: 1 GiB.
    public static let defaultDiskCacheBytes = 1 << 30

    public enum Location: Sendable, Equatable {
        case local(path: String)
        case s3(S3Configuration)
    }

    /// Whether `text` names a store by URL (`s3://` or `file://`) rather than a plain path.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("s3://") || text.hasPrefix("file://")
    }

    /// Whether `text` names a remote (S3) store.
    public static func isRemote(_ text: String) -> Bool { text.hasPrefix("s3://") }

    /// Parses a location, taking defaults from the process environment.
    /// - Throws: `FloeError.invalidArgument` for a malformed URL or an unknown parameter.
    public static func parse(_ text: String) throws -> Location {
        try parse(text, environment: S3ObjectStore.processEnvironment())
    }

    /// Parses a location with defaults from `environment`.
    public static func parse(_ text: String, environment: [String: String]) throws -> Location {
        if text.hasPrefix("file://") {
            var rest = Substring(text.dropFirst("file://".count))
            if rest.hasPrefix("localhost/") { rest = rest.dropFirst("localhost".count) }
            guard rest.hasPrefix("/") else {
                throw FloeError.invalidArgument("file URL must name an absolute path (file:///path): \(text)")
            }
            return .local(path: try percentDecode(String(rest), in: text))
        }
        guard text.hasPrefix("s3://") else { return .local(path: text) }
        var rest = Substring(text.dropFirst("s3://".count))
        var query: [(String, String)] = []
        if let q = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: q)...].split(separator: "&") where !pair.isEmpty {
                let eq = pair.firstIndex(of: "=") ?? pair.endIndex
                let value = eq == pair.endIndex ? "" : String(pair[pair.index(after: eq)...])
                query.append((try percentDecode(String(pair[..<eq]), in: text), try percentDecode(value, in: text)))
            }
            rest = rest[..<q]
        }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let bucket = String(rest[..<slash])
        guard !bucket.isEmpty else { throw FloeError.invalidArgument("s3 URL has no bucket: \(text)") }
        let prefix = slash == rest.endIndex ? "" : try percentDecode(String(rest[rest.index(after: slash)...]), in: text)

        func nonEmpty(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        var c = S3Configuration(bucket: bucket, prefix: prefix,
                                region: nonEmpty("AWS_REGION") ?? nonEmpty("AWS_DEFAULT_REGION") ?? "us-east-1",
                                endpoint: nonEmpty("AWS_ENDPOINT_URL_S3") ?? nonEmpty("AWS_ENDPOINT_URL"))
        var cacheDirectory: String?, cacheBytes: Int?, writeThrough: Bool?
        for (name, value) in query {
            func number(_ what: String) throws -> Int {
                guard let n = Int(value), n > 0 else { throw FloeError.invalidArgument("s3 URL: \(what) must be a positive integer: \(value)") }
                return n
            }
            switch name {
            case "endpoint": c.endpoint = value.isEmpty ? nil : value
            case "region": c.region = value
            case "path-style":
                switch value.lowercased() {
                case "1", "true", "yes", "": c.addressing = .pathStyle
                case "0", "false", "no": c.addressing = .virtualHosted
                default: throw FloeError.invalidArgument("s3 URL: path-style must be 1 or 0: \(value)")
                }
            case "profile": c.profile = value
            case "multipart-threshold": c.multipartThreshold = try number(name)
            case "part-size": c.partSize = try number(name)
            case "max-connections": c.maxConnections = try number(name)
            case "retries": c.retry.maxAttempts = try number(name)
            case "cache-dir":
                guard !value.isEmpty else { throw FloeError.invalidArgument("s3 URL: cache-dir is empty") }
                cacheDirectory = value
            case "cache-bytes": cacheBytes = try number(name)
            case "cache-write-through":
                switch value.lowercased() {
                case "1", "true", "yes", "": writeThrough = true
                case "0", "false", "no": writeThrough = false
                default: throw FloeError.invalidArgument("s3 URL: cache-write-through must be 1 or 0: \(value)")
                }
            case "timeout":
                guard let seconds = Double(value), seconds > 0 else { throw FloeError.invalidArgument("s3 URL: timeout must be positive seconds: \(value)") }
                c.requestTimeout = seconds
            default:
                throw FloeError.invalidArgument("s3 URL: unknown parameter \(name) (known: endpoint, region, path-style, profile, "
                    + "multipart-threshold, part-size, max-connections, timeout, retries, cache-dir, cache-bytes, cache-write-through)")
            }
        }
        if let cacheDirectory {
            c.diskCache = DiskCacheOptions(directory: cacheDirectory, capacityBytes: cacheBytes ?? defaultDiskCacheBytes,
                                           writeThrough: writeThrough ?? false)
        } else if cacheBytes != nil || writeThrough != nil {
            throw FloeError.invalidArgument("s3 URL: cache-bytes and cache-write-through need cache-dir")
        }
        try c.validate()
        if c.endpoint != nil { _ = try S3Endpoint(c.endpoint!) }
        return .s3(c)
    }

    /// The object store `text` names. A local directory is created if missing
    /// only with `create`; an S3 store sends no request here.
    /// - Throws: `FloeError.invalidArgument` for a malformed URL or missing S3
    ///   credentials; `FloeError.notAFloeStore` for a missing directory without `create`.
    public static func objectStore(for text: String, create: Bool = true) throws -> any ObjectStore {
        switch try parse(text) {
        case let .local(path): return try LocalObjectStore(root: path, create: create)
        case let .s3(configuration): return try configuration.objectStore()
        }
    }

    /// A plain path for `file://` URLs and paths; nil for remote stores.
    public static func localPath(_ text: String) throws -> String? {
        if case let .local(path) = try parse(text, environment: [:]) { return path }
        return nil
    }

    private static func percentDecode(_ s: String, in text: String) throws -> String {
        guard s.contains("%") else { return s }
        var out: [UInt8] = []
        var bytes = Array(s.utf8)[...]
        while let b = bytes.popFirst() {
            if b == UInt8(ascii: "%") {
                guard bytes.count >= 2, let v = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) else {
                    throw FloeError.invalidArgument("bad percent escape in \(text)")
                }
                out.append(v)
                bytes = bytes.dropFirst(2)
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension StateStore {
    /// Opens (creating if missing) the store at `url`: `s3://bucket/prefix?...`,
    /// `file:///path` or a plain directory path (`FloeStoreURL`).
    public static func open(url: String, options: StoreOptions = .init()) async throws -> StateStore {
        if let path = try FloeStoreURL.localPath(url) { return try await open(path: path, options: options) }
        return try await open(objectStore: try FloeStoreURL.objectStore(for: url), options: options)
    }

    /// Opens the store at `url` read-only (no open record: fences nobody).
    public static func openReadOnly(url: String, options: StoreOptions = .init()) async throws -> StateStore {
        if let path = try FloeStoreURL.localPath(url) { return try await openReadOnly(path: path, options: options) }
        return try await openReadOnly(objectStore: try FloeStoreURL.objectStore(for: url, create: false), options: options)
    }

    /// Opens the named checkpoint `name` of the store at `url` read-only
    /// (`StateStore.openReadOnly(path:checkpoint:)`).
    /// - Throws: `FloeError.invalidArgument` when no checkpoint has that name.
    public static func openReadOnly(url: String, checkpoint name: String, options: StoreOptions = .init()) async throws -> StateStore {
        if let path = try FloeStoreURL.localPath(url) { return try await openReadOnly(path: path, checkpoint: name, options: options) }
        return try await openReadOnly(objectStore: try FloeStoreURL.objectStore(for: url, create: false), checkpoint: name, options: options)
    }
}
