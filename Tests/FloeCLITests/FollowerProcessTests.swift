import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Floe
import FloeDataflow
@testable import floe

/// A read-only follower in this process beside a writer (`floe pipeline run`) and
/// a standalone compactor deleting with no grace (`floe compact --gc
/// --gc-grace-seconds 0`), each a process of its own on one store directory.
/// At every epoch the follower reaches, the view must agree with the source
/// offsets committed in the same epoch (a torn or partly visible epoch would
/// not), and a second read of that epoch a while later, after the compactor
/// replaced and deleted files, must return the same rows: the follower's lease
/// keeps the files of its version.
@Suite(.serialized, .enabled(if: FloeBinary.path != nil, "the floe executable is not built"))
struct FollowerProcessTests {
    static func run(_ arguments: [String]) async throws -> ChildProcess.Termination {
        try await offCooperativePool {
            let child = try ChildProcess(executable: FloeBinary.path!, arguments: arguments, environment: [:], outputFiles: nil,
                                         stderrFile: "/dev/null")
            while try child.readLine() != nil {}
            return child.waitForExit()
        }
    }

    /// The commit metadata key of the orders topic's offsets.
    static let sourceKey = PipelineMetadata.sourceKey("log:orders")

    /// Orders counted by the view at `epoch`, and the orders the committed offsets say were consumed.
    static func counts(_ store: StateStore, at epoch: Epoch) async throws -> (view: Int64, offsets: UInt64, rows: [[String]]) {
        let rows = try await ViewReader(store: store, view: EoViews.revenue).sortedRows(at: epoch)
        let countColumn = 1 // category, order_count, total_revenue, avg_amount
        let view = rows.reduce(Int64(0)) { $0 + (Int64($1[countColumn]) ?? -1_000_000) }
        let offsets = try PipelineMetadata.decodeOffsets(store.committedMetadata[sourceKey] ?? [], source: sourceKey)
        return (view, offsets.reduce(0, +), rows)
    }

    @Test(.timeLimit(.minutes(4)))
    func followerSeesWholeEpochsWhileACompactorDeletesBehindIt() async throws {
        let work = try EotestProcessTests.temporaryWork()
        defer { EotestFiles.remove(work) }
        let events = 120_000
        #expect(try await Self.run(["log", "generate", "--stream", "orders", "--events", "\(events)", "--seed", "5",
                                    "--out", work + "/orders.csv"]) == .exited(0))
        #expect(try await Self.run(["log", "load", "--log", work + "/log", "--topic", "orders", "--partitions", "2",
                                    work + "/orders.csv"]) == .exited(0))
        let store = work + "/store"
        let writer = try ChildProcess(executable: FloeBinary.path!, arguments: [
            "pipeline", "run", "--log", work + "/log", "--path", store, "--query", EoViews.revenue,
            "--barrier-interval-ms", "10", "--chunk-rows", "64", "--until-end"], environment: [:],
            outputFiles: (work + "/writer.out", work + "/writer.err"))
        // The store exists once the writer's first commit landed.
        var follower: StateStore?
        for _ in 0..<2000 where follower == nil {
            if let f = try? await StateStore.openReadOnly(path: store) {
                if f.committedMetadata[Self.sourceKey] != nil { follower = f; break }
                try await f.close()
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        let f = try #require(follower, "the writer never committed")
        let compactor = try ChildProcess(executable: FloeBinary.path!, arguments: [
            "compact", "--path", store, "--gc", "--gc-grace-seconds", "0", "--interval-ms", "2", "--l0-trigger", "2"],
            environment: [:], outputFiles: (work + "/compactor.out", work + "/compactor.err"))

        var epochs = Set<Epoch>()
        var writerEnded: ChildProcess.Termination?
        while writerEnded == nil {
            let e = try await f.refresh()
            let first: (view: Int64, offsets: UInt64, rows: [[String]])
            do { first = try await Self.counts(f, at: e) } catch {
                let leases = (try? await LocalObjectStore(root: store, create: false).list(prefix: "readers/")) ?? []
                Issue.record("first read of epoch \(e) (version \(f.currentVersion.sequence), ssts \(f.currentVersion.allSsts.map { String($0.id, radix: 16) })): \(error); leases \(leases.map(\.path))")
                throw error
            }
            #expect(first.view == Int64(first.offsets), "epoch \(e): the view counts \(first.view) orders, the committed offsets \(first.offsets)")
            // Let the compactor replace and delete files under this version, then read it again.
            try await Task.sleep(for: .milliseconds(40))
            let again = try await Self.counts(f, at: e)
            #expect(again.rows == first.rows, "epoch \(e) read differently 40 ms later")
            epochs.insert(e)
            writerEnded = writer.exitIfEnded()
        }
        #expect(writerEnded == .exited(0), "writer \(writerEnded!): \(String(decoding: (try? FileBytes.contents(of: work + "/writer.err")) ?? [], as: UTF8.self))")
        let last = try await f.refresh()
        let final = try await Self.counts(f, at: last)
        #expect(final.view == Int64(events) && final.offsets == UInt64(events), "after the end: view \(final.view), offsets \(final.offsets)")
        #expect(epochs.count >= 5, "the follower saw only \(epochs.count) epochs")
        kill(compactor.pid, SIGTERM)
        let pid = compactor.pid
        let compactorEnd = try await offCooperativePool { () -> ChildProcess.Termination in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            return ChildProcess.termination(status)
        }

        #expect(compactorEnd == .exited(0), "compactor \(compactorEnd)")
        let summary = String(decoding: (try? FileBytes.contents(of: work + "/compactor.out")) ?? [], as: UTF8.self)
        #expect(summary.contains("deleted") || summary.contains("gc"), "compactor summary: \(summary)")
        try await f.close()
    }
}
