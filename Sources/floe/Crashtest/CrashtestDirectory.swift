import FloeTesting
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The working directory of `floe crashtest --path P`:
///
/// ```
/// P/CRASHTEST        marker: P belongs to floe crashtest (only then is it reset)
/// P/store/           the store under test (its object-store namespace)
/// P/oracle.log       the oracle (OracleLog), outside the store's namespace
/// P/worker.out|.err  stdout and stderr of the last worker
/// P/worker.ops       the last worker's operation counter (SharedCounter)
/// P/replay/          the state before the current iteration: store/ (hard links),
///                    oracle.log, and ITERATION naming the run and iteration
///
/// With --zombie, the worker above is the successor (writer B), and also:
/// P/successor.log              the successor's oracle (base: the state it took over)
/// P/zombie.out|.err|.ops       the zombie's (writer A's) output and operation counter;
///                              its oracle is P/oracle.log
/// P/zombie.control             the words the harness and the zombie share (ZombieControl)
/// P/compactor.out|.err         the output of the iteration's `floe compact`
/// ```
struct CrashtestDirectory {
    static let markerName = "CRASHTEST"

    let root: String

    var store: String { root + "/store" }
    var oracle: String { root + "/oracle.log" }
    var workerStdout: String { root + "/worker.out" }
    var workerStderr: String { root + "/worker.err" }
    var opsCounter: String { root + "/worker.ops" }
    var replay: String { root + "/replay" }
    var successorOracle: String { root + "/successor.log" }
    var zombieStdout: String { root + "/zombie.out" }
    var zombieStderr: String { root + "/zombie.err" }
    var zombieOps: String { root + "/zombie.ops" }
    var zombieControl: String { root + "/zombie.control" }
    var compactorStdout: String { root + "/compactor.out" }
    var compactorStderr: String { root + "/compactor.err" }
    /// Files an iteration's processes write; removed before an iteration starts.
    var processFiles: [String] {
        [workerStdout, workerStderr, opsCounter, successorOracle, successorOracle + ".tmp", zombieStdout, zombieStderr, zombieOps,
         zombieControl, compactorStdout, compactorStderr]
    }
    private var replayOracle: String { replay + "/oracle.log" }
    private var replayMarker: String { replay + "/ITERATION" }
    private var mirror: StoreMirror { StoreMirror(source: store, mirror: replay + "/store") }

    /// What a saved pre-iteration state belongs to; a replay must match it.
    struct ReplayPoint: Equatable, CustomStringConvertible {
        var seed: UInt64
        var iteration: Int
        var keys: Int
        var failpoints: Bool
        var zombie: Bool

        var description: String {
            "seed=\(seed) iteration=\(iteration) keys=\(keys) failpoints=\(failpoints ? 1 : 0)" + (zombie ? " zombie=1" : "")
        }

        init(seed: UInt64, iteration: Int, keys: Int, failpoints: Bool, zombie: Bool) {
            self.seed = seed
            self.iteration = iteration
            self.keys = keys
            self.failpoints = failpoints
            self.zombie = zombie
        }

        init?(_ text: String) {
            var fields: [String: String] = [:]
            for part in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
                let kv = part.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
            }
            guard let s = fields["seed"].flatMap({ UInt64($0) }), let i = fields["iteration"].flatMap({ Int($0) }),
                  let k = fields["keys"].flatMap({ Int($0) }), let f = fields["failpoints"] else { return nil }
            self.init(seed: s, iteration: i, keys: k, failpoints: f == "1", zombie: fields["zombie"] == "1")
        }
    }

    /// Why `path` cannot be a crashtest directory, or nil if it can: it must be
    /// absent, an empty directory, or a directory holding the `CRASHTEST` marker.
    static func problem(with path: String) -> String? {
        if path.isEmpty { return "--path must not be empty" }
        var st = stat()
        if stat(path, &st) != 0 {
            if errno != ENOENT { return "cannot use --path \(path): \(String(cString: strerror(errno)))" }
            let parent = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
            var pst = stat()
            if !parent.isEmpty && (stat(parent, &pst) != 0 || (pst.st_mode & S_IFMT) != S_IFDIR) {
                return "cannot use --path \(path): its parent directory \(parent) does not exist"
            }
            return nil
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { return "--path \(path) is not a directory" }
        var marker = stat()
        if stat(path + "/" + markerName, &marker) == 0 { return nil }
        guard let dir = opendir(path) else { return "cannot read --path \(path): \(String(cString: strerror(errno)))" }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." {
                return "--path \(path) is not empty and is not a floe crashtest directory (it has no \(markerName) file); "
                    + "give a new or empty directory"
            }
        }
        return nil
    }

    /// Creates the directory (and marker) if needed and starts from an empty store:
    /// removes what an earlier run left and writes an oracle at epoch 0.
    func startFresh() throws {
        if mkdir(root, 0o755) != 0 && errno != EEXIST { throw failure("mkdir", root) }
        try DurableFile.replace(root + "/" + Self.markerName, with: Array("floe crashtest directory\n".utf8))
        for dir in [store, replay] { try removeTree(dir) }
        for file in processFiles + [oracle + ".tmp"] { unlink(file) }
        try OracleLog.rewrite(oracle, [.base(epoch: 0, metadata: [:], rows: [:])])
    }

    /// Saves the store and oracle as they are now, as the state before iteration `point.iteration`.
    func savePreIteration(_ point: ReplayPoint) throws {
        if mkdir(replay, 0o755) != 0 && errno != EEXIST { throw failure("mkdir", replay) }
        // The marker goes first and comes back last: a half-updated copy is never taken for a saved state.
        unlink(replayMarker)
        try mirror.update()
        try DurableFile.replace(replayOracle, with: try FileBytes.contents(of: oracle))
        try DurableFile.replace(replayMarker, with: Array((point.description + "\n").utf8))
    }

    /// The iteration whose starting state `replay/` holds, if any.
    func savedReplayPoint() -> ReplayPoint? {
        guard let bytes = try? FileBytes.contents(of: replayMarker) else { return nil }
        return ReplayPoint(String(decoding: bytes, as: UTF8.self))
    }

    /// Puts the saved pre-iteration store and oracle back in place (the saved copy stays for later replays).
    func restoreReplay() throws {
        try mirror.restore()
        try DurableFile.replace(oracle, with: try FileBytes.contents(of: replayOracle))
        for file in processFiles { unlink(file) }
    }

    private func failure(_ call: String, _ path: String) -> CrashtestError {
        CrashtestError("\(call) \(path): \(String(cString: strerror(errno)))")
    }
}
