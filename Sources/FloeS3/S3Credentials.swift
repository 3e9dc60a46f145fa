import Floe
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An access key pair (and, for temporary credentials, a session token).
///
/// Never printed: `description` and `debugDescription` show the access key id's
/// last four characters only, and no error Floe throws carries any part of
/// these credentials.
public struct S3Credentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    public var description: String {
        "S3Credentials(access key …\(accessKeyID.suffix(4)), secret redacted"
            + (sessionToken == nil ? ")" : ", session token redacted)")
    }

    public var debugDescription: String { description }

    /// Where credentials were found, for messages (never the credentials themselves).
    public enum Source: Sendable, Equatable, CustomStringConvertible {
        case explicit
        case environment
        case sharedFile(path: String, profile: String)

        public var description: String {
            switch self {
            case .explicit: return "options"
            case .environment: return "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
            case let .sharedFile(path, profile): return "profile \(profile) of \(path)"
            }
        }
    }

    /// Credentials in the order AWS's tools look: `explicit`, then
    /// `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`) in
    /// `environment`, then the shared credentials file
    /// (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`) at `profile`
    /// (else `AWS_PROFILE`, else `default`).
    ///
    /// - Throws: `FloeError.invalidArgument` if none is found (naming where it
    ///   looked) or a named profile is missing; `FloeError.io` if the file
    ///   exists but cannot be read.
    public static func resolve(explicit: S3Credentials?, profile: String?,
                               environment: [String: String]) throws -> (S3Credentials, Source) {
        if let explicit { return (explicit, .explicit) }
        if let found = fromEnvironment(environment) { return (found, .environment) }
        let path = sharedFilePath(environment)
        let name = profile ?? environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        if let path, let text = try readFile(path) {
            if let found = try fromSharedFile(text, profile: name) { return (found, .sharedFile(path: path, profile: name)) }
            if profile != nil || environment["AWS_PROFILE"] != nil {
                throw FloeError.invalidArgument("S3 credentials: profile \(name) has no aws_access_key_id and aws_secret_access_key in \(path)")
            }
        } else if profile != nil {
            throw FloeError.invalidArgument("S3 credentials: profile \(name) asked for, but no credentials file at \(path ?? "~/.aws/credentials")")
        }
        throw FloeError.invalidArgument("no S3 credentials: none in the options, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY unset, "
            + "and no profile \(name) in \(path ?? "~/.aws/credentials (HOME unset)")")
    }

    /// `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`), if both are set and not empty.
    public static func fromEnvironment(_ environment: [String: String]) -> S3Credentials? {
        guard let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty,
              let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else { return nil }
        let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        return S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token)
    }

    /// The credentials of `profile` in the text of a shared credentials file
    /// (INI: `[name]` sections of `key = value` lines, `#` and `;` comments;
    /// `[profile name]` is accepted too, as in the config file).
    /// - Throws: nothing for a well-formed file; `nil` when the profile or one of its two keys is missing.
    public static func fromSharedFile(_ text: String, profile: String) throws -> S3Credentials? {
        var section: String?
        var values: [String: String] = [:]
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let line = raw.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                var name = String(line.dropFirst().dropLast()).trimmingWhitespace()
                if name.hasPrefix("profile ") { name = String(name.dropFirst("profile ".count)).trimmingWhitespace() }
                section = name
                continue
            }
            guard section == profile, let eq = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<eq]).trimmingWhitespace().lowercased()
            let value = String(line[line.index(after: eq)...]).trimmingWhitespace()
            values[key] = value
        }
        guard let id = values["aws_access_key_id"], !id.isEmpty,
              let secret = values["aws_secret_access_key"], !secret.isEmpty else { return nil }
        let token = values["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 }
        return S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token)
    }

    static func sharedFilePath(_ environment: [String: String]) -> String? {
        if let path = environment["AWS_SHARED_CREDENTIALS_FILE"], !path.isEmpty { return path }
        guard let home = environment["HOME"], !home.isEmpty else { return nil }
        return home + "/.aws/credentials"
    }

    /// The file's text, or nil if it does not exist.
    private static func readFile(_ path: String) throws -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw FloeError.io(path: path, reason: "open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FloeError.io(path: path, reason: "read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
