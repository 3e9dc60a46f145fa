/// The benchmarks `floe bench --benchmarks a,b,c` runs, in the order given, on one shared store.
enum BenchmarkName: String, CaseIterable, Sendable {
    case fillseq
    case fillrandom
    case overwrite
    case readrandom
    case readmissing
    case readhot
    case seekrandom
    case seekreverse
    case scanall
    case readwhilewriting
    case checkpoint
    case recovery
    case compact
    case reopen
    case prefixjoin

    /// One line for `--help`.
    var summary: String {
        switch self {
        case .fillseq: "--num keys in key order, epochs checkpointed (pipelined)"
        case .fillrandom: "--num keys in random order, epochs checkpointed (pipelined)"
        case .overwrite: "fill, num/2 overwrites, num/5 deletes, quiesce, verify all"
        case .readrandom: "--reads gets of random existing keys, --threads readers"
        case .readmissing: "--reads gets of keys never written (among written ones)"
        case .readhot: "--reads gets of the first 1% of the keys (a hot set)"
        case .seekrandom: "--seeks scans of --scan-keys rows from random keys"
        case .seekreverse: "--seeks reverse scans of --scan-keys rows back from random keys"
        case .scanall: "one full scan of the table"
        case .readwhilewriting: "--threads readers while one writer checkpoints epochs"
        case .checkpoint: "commit latency (seal to commit) at --rate keys/s"
        case .recovery: "open + first get after SIGKILL, per --recovery-sizes"
        case .compact: "compaction to quiescence, timed"
        case .reopen: "close and reopen the shared store, timed"
        case .prefixjoin: "--seeks prefix scans of 8-byte join keys over --num rows, own stores without and with a prefix filter"
        }
    }

    /// Parses `a,b,c`; throws a message naming the unknown entry and the known names.
    static func parseList(_ text: String) throws -> [BenchmarkName] {
        let names = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces }
        guard !names.isEmpty, !names.allSatisfy(\.isEmpty) else { throw BenchOptionError("--benchmarks is empty") }
        var out: [BenchmarkName] = []
        for n in names {
            guard let b = BenchmarkName(rawValue: n) else {
                throw BenchOptionError("unknown benchmark '\(n)'; known: \(allCases.map(\.rawValue).joined(separator: ", "))")
            }
            out.append(b)
        }
        return out
    }

    /// `name  summary` lines for the command's help.
    static var helpText: String {
        let width = allCases.map(\.rawValue.count).max() ?? 0
        return allCases.map { $0.rawValue.padded(width) + "  " + $0.summary }.joined(separator: "\n")
    }
}

/// A bad `floe bench` option, with a message that says what to change.
struct BenchOptionError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
