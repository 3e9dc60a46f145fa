import Floe
import FloeS3

/// The scratch stores `floe crashtest --store-url` and `floe eotest --store-url`
/// keep on S3: sub-prefixes of the URL given, emptied before use.
enum RemoteStoreScratch {
    /// `url` with `component` appended to its key prefix:
    /// `s3://b/p?endpoint=e` + `schedule-3` is `s3://b/p/schedule-3?endpoint=e`.
    static func url(_ url: String, appending component: String) -> String {
        let query = url.firstIndex(of: "?")
        var base = String(url[..<(query ?? url.endIndex)])
        if !base.hasSuffix("/") { base += "/" }
        return base + component + (query.map { String(url[$0...]) } ?? "")
    }

    /// Deletes every object of the store at `url` (an `s3://` URL: its prefix of the
    /// bucket; a local path: its objects); returns how many there were.
    /// - Throws: what the object store throws (a missing bucket, an error after retries).
    @discardableResult
    static func empty(_ url: String) async throws -> Int {
        let objects = try FloeStoreURL.objectStore(for: url)
        do {
            let paths = try await objects.list(prefix: "").map(\.path)
            for path in paths { try await objects.delete(path) }
            try? await (objects as? S3ObjectStore)?.shutdown()
            return paths.count
        } catch {
            try? await (objects as? S3ObjectStore)?.shutdown()
            throw error
        }
    }
}
