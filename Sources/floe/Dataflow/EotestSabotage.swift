import ArgumentParser
import FloeDataflow
#if canImport(Glibc)
import Glibc
#endif

/// Harness self-checks of `floe eotest --sabotage` (hidden): damage that an
/// exactly-once failure would leave, done on purpose to every schedule's outputs,
/// which the checks must then report as failures. A harness that passed any of
/// them would pass a pipeline that lost or repeated epochs.
enum EotestSabotage: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// Deletes the file of a middle epoch of the first view from the file sink
    /// (an epoch lost in delivery): a missing epoch and rows lost or extra.
    case dropEpochFile = "drop-epoch-file"
    /// Writes the newest epoch file of the first view again under a new inode
    /// (an epoch delivered twice): a repeated epoch.
    case rewriteEpochFile = "rewrite-epoch-file"
    /// Deletes the SQLite sink before the last run (a sink that lost what it
    /// held): the last run must refuse it, and the sink then lacks rows.
    case forgetSqlite = "forget-sqlite"

    /// Before run `run` of `runs`.
    func beforeRun(_ run: Int, of runs: Int, sqlite: String) {
        guard self == .forgetSqlite, run == runs - 1 else { return }
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(sqlite + suffix) }
    }

    /// After the last run, before the outputs are read.
    func afterRuns(sinkDirectory: String, views: [String]) {
        guard let view = views.first else { return }
        let files = EotestOutputs.listEpochFiles(directory: sinkDirectory, view: view)
        let name = { (e: UInt64) in sinkDirectory + "/" + view + "/" + FileSink.fileName(epoch: e) }
        switch self {
        case .dropEpochFile:
            if !files.isEmpty { unlink(name(files[files.count / 2].epoch)) }
        case .rewriteEpochFile:
            guard let last = files.last, let bytes = try? FileBytes.contents(of: name(last.epoch)) else { return }
            let temporary = name(last.epoch) + ".sabotage"
            if (try? FileBytes.save(bytes, to: temporary)) != nil { rename(temporary, name(last.epoch)) }
        case .forgetSqlite:
            break
        }
    }

}
