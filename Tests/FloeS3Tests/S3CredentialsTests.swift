import Floe
import FloeS3
import Foundation
import Testing

/// Where credentials come from (options, environment, shared credentials file and
/// profile, in that order) and that no description or error shows them.
@Suite struct S3CredentialsTests {
    static let file = """
        # a comment
        [default]
        aws_access_key_id = AKIDDEFAULT0001
        aws_secret_access_key=default-secret

        [ci]
        ; another comment
        aws_access_key_id = AKIDCI00000002
        aws_secret_access_key = ci-secret
        aws_session_token = ci-token

        [profile legacy]
        aws_access_key_id = AKIDLEGACY0003
        aws_secret_access_key = legacy-secret

        [half]
        aws_access_key_id = AKIDHALF
        """

    /// A credentials file in a fresh directory; removed by the caller.
    static func writeFile() throws -> (dir: String, path: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("floe-creds-\(UInt64.random(in: 0 ... .max))").path
        try FileManager.default.createDirectory(atPath: dir + "/.aws", withIntermediateDirectories: true)
        let path = dir + "/.aws/credentials"
        try file.write(toFile: path, atomically: true, encoding: .utf8)
        return (dir, path)
    }

    @Test func sharedFileProfiles() throws {
        #expect(try S3Credentials.fromSharedFile(Self.file, profile: "default")
                == S3Credentials(accessKeyID: "AKIDDEFAULT0001", secretAccessKey: "default-secret"))
        #expect(try S3Credentials.fromSharedFile(Self.file, profile: "ci")
                == S3Credentials(accessKeyID: "AKIDCI00000002", secretAccessKey: "ci-secret", sessionToken: "ci-token"))
        #expect(try S3Credentials.fromSharedFile(Self.file, profile: "legacy")?.accessKeyID == "AKIDLEGACY0003")
        #expect(try S3Credentials.fromSharedFile(Self.file, profile: "half") == nil)
        #expect(try S3Credentials.fromSharedFile(Self.file, profile: "absent") == nil)
    }

    @Test func resolutionOrder() throws {
        let (dir, path) = try Self.writeFile()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let explicit = S3Credentials(accessKeyID: "AKIDEXPLICIT", secretAccessKey: "x")
        let env = ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_SESSION_TOKEN": "env-token", "HOME": dir]

        let (a, aSource) = try S3Credentials.resolve(explicit: explicit, profile: "ci", environment: env)
        #expect(a == explicit && aSource == .explicit)
        let (b, bSource) = try S3Credentials.resolve(explicit: nil, profile: nil, environment: env)
        #expect(b == S3Credentials(accessKeyID: "AKIDENV", secretAccessKey: "env-secret", sessionToken: "env-token") && bSource == .environment)
        let (c, cSource) = try S3Credentials.resolve(explicit: nil, profile: nil, environment: ["HOME": dir])
        #expect(c.accessKeyID == "AKIDDEFAULT0001" && cSource == .sharedFile(path: path, profile: "default"))
        let (d, _) = try S3Credentials.resolve(explicit: nil, profile: nil, environment: ["HOME": dir, "AWS_PROFILE": "ci"])
        #expect(d.sessionToken == "ci-token")
        let (e, eSource) = try S3Credentials.resolve(explicit: nil, profile: "legacy",
                                                     environment: ["AWS_SHARED_CREDENTIALS_FILE": path, "AWS_PROFILE": "ci"])
        #expect(e.accessKeyID == "AKIDLEGACY0003" && eSource == .sharedFile(path: path, profile: "legacy"))
        // An empty variable does not count.
        let (f, _) = try S3Credentials.resolve(explicit: nil, profile: nil,
                                               environment: ["AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "s", "HOME": dir])
        #expect(f.accessKeyID == "AKIDDEFAULT0001")
    }

    @Test func missingCredentialsAreInvalidArgumentsThatNameWhereItLooked() throws {
        let (dir, path) = try Self.writeFile()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (profile, env, needle) in [(nil, ["HOME": dir + "/nowhere"], "no S3 credentials"),
                                       ("absent", ["HOME": dir], "profile absent"),
                                       ("half", ["AWS_SHARED_CREDENTIALS_FILE": path], "profile half"),
                                       (nil, [String: String](), "HOME unset")] as [(String?, [String: String], String)] {
            let error = #expect(throws: FloeError.self) { _ = try S3Credentials.resolve(explicit: nil, profile: profile, environment: env) }
            guard case let .invalidArgument(message)? = error else {
                Issue.record("\(String(describing: profile)): expected invalidArgument, got \(String(describing: error))")
                continue
            }
            #expect(message.contains(needle), "\(message)")
            #expect(!message.contains("default-secret") && !message.contains("ci-secret"), "\(message)")
        }
        // A store without credentials anywhere cannot be made.
        let error = #expect(throws: FloeError.self) {
            _ = try S3ObjectStore(S3Configuration(bucket: "b"), environment: ["HOME": dir + "/nowhere"])
        }
        guard case .invalidArgument? = error else { Issue.record("got \(String(describing: error))"); return }
    }

    @Test func descriptionsRedactSecrets() {
        let c = S3Credentials(accessKeyID: "AKIDVISIBLE1234", secretAccessKey: "very-secret-key", sessionToken: "very-secret-token")
        for text in [String(describing: c), String(reflecting: c), "\(c)", String(describing: [c])] {
            #expect(!text.contains("very-secret") && !text.contains("AKIDVISIBLE"), "\(text)")
            #expect(text.contains("1234"), "\(text)")
        }
    }
}
