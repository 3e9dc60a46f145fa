import ArgumentParser
import Floe
import FloeS3
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Shared text formatting and error reporting of the inspection commands.
enum InspectFormat {
    /// `1234 B`, `1.21 KiB`, `35.0 MiB`.
    static func bytes<I: BinaryInteger>(_ n: I) -> String {
        NumberText.bytes(n)
    }

    /// `n thing` or `n things`.
    static func count(_ n: Int, _ singular: String, _ plural: String? = nil) -> String {
        "\(n) " + (n == 1 ? singular : plural ?? singular + "s")
    }

    /// An epoch range `a...b`, or `a` when both ends are equal, or `-`.
    static func epochs(_ lo: Epoch?, _ hi: Epoch?) -> String {
        guard let lo, let hi else { return "-" }
        return lo == hi ? "\(lo)" : "\(lo)...\(hi)"
    }

    /// Milliseconds since 1970 as `YYYY-MM-DD HH:MM:SS.mmm` in UTC.
    static func timestamp(millis: UInt64) -> String {
        var t = time_t(millis / 1000)
        var parts = tm()
        guard gmtime_r(&t, &parts) != nil else { return "\(millis) ms" }
        func pad(_ v: Int32, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2)) "
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis % 1000), 3))"
    }

    /// Writes `floe: <message>` to standard error (after flushing standard output).
    static func printError(_ message: String) {
        fflush(nil)
        let line = "floe: " + message + "\n"
        let bytes = Array(line.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(2, $0.baseAddress! + done, $0.count - done) }
            if n <= 0 { break }
            done += n
        }
    }

    /// Reports `error` on standard error and returns the failure exit code to throw.
    static func failure(_ error: any Error) -> ExitCode {
        printError("\(error)")
        return ExitCode(1)
    }

    /// Opens the store at `path` for reading, or reports why it is not one. `path` is a
    /// directory, a `file://` URL or an `s3://bucket/prefix?...` URL (`FloeStoreURL`, docs/s3.md).
    static func openStore(_ path: String) async throws -> StoreInspector {
        do {
            guard FloeStoreURL.isRemote(path) else {
                return try await StoreInspector.directory(try FloeStoreURL.localPath(path) ?? path)
            }
            let store = try FloeStoreURL.objectStore(for: path, create: false)
            guard try await !store.list(prefix: "manifest/").isEmpty else {
                throw FloeError.notAFloeStore("\(path) (no manifest/ objects)")
            }
            return StoreInspector(objectStore: store)
        } catch {
            throw failure(error)
        }
    }

    /// The object store at `path` (a directory or a URL), which must exist; reports why not.
    static func objectStore(_ path: String) throws -> any ObjectStore {
        do {
            return try FloeStoreURL.objectStore(for: path, create: false)
        } catch {
            throw failure(error)
        }
    }
}
