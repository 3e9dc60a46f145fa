#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a crash-test worker left in its output files: the fields of its last
/// `status` line, its last `stop:`, `violation:`, `error:` or `fenced:` line, and
/// its stderr (for a crash's excerpt).
struct WorkerTranscript {
    var stdout: String
    var stderr: String
    /// Fields of the last status line (`key=value`).
    var status: [String: String]
    /// The last line saying why the worker ended, if it ended by itself.
    var finalLine: String?

    static let finalPrefixes = ["stop: ", "violation: ", "error: ", CrashtestWorkerCommand.fencedPrefix]

    init(stdoutPath: String, stderrPath: String) {
        stdout = (try? FileBytes.contents(of: stdoutPath)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        stderr = (try? FileBytes.contents(of: stderrPath)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let lines = stdout.split(separator: "\n").map(String.init)
        var status: [String: String] = [:]
        for field in (lines.last { $0.hasPrefix("status ") } ?? "").split(separator: " ").dropFirst() {
            let kv = field.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { status[String(kv[0])] = String(kv[1]) }
        }
        self.status = status
        finalLine = lines.last { line in Self.finalPrefixes.contains { line.hasPrefix($0) } }
    }

    /// Why the way the worker ended is a problem, or nothing when it ended as the
    /// harness expects: SIGKILLed by the harness (`killed`), or stopped by itself
    /// (`--kill-after-ops`, a sabotage, a failpoint: `crashedAtFailpoint`).
    func problems(_ termination: ChildProcess.Termination, killed: Bool, crashedAtFailpoint: Bool) -> [String] {
        switch termination {
        case .signalled(SIGKILL) where killed: return []
        case .exited(CrashtestWorkerCommand.exitStopped) where finalLine?.hasPrefix("stop: ") == true || crashedAtFailpoint: return []
        case .exited(CrashtestWorkerCommand.exitViolation):
            return ["the worker's own check failed: \(finalLine ?? "(no message)")"]
        case .exited(CrashtestWorkerCommand.exitError):
            return ["the worker failed: \(finalLine ?? "(no message)")"]
        default:
            let tail = CrashtestRunner.crashExcerpt(stderr)
            return ["the worker \(termination) unexpectedly" + (tail.isEmpty ? "" : "; stderr:\n\(tail)")]
        }
    }
}
