import ArgumentParser
import Foundation
import Testing
@testable import Floe
@testable import FloeDataflow
@testable import floe

/// `floe pipeline lineage` and `floe pipeline verify` over a store written by the
/// pipeline of `floe pipeline run`, run as the command line would run them.
@Suite struct PipelineVerifyCommandTests {
    @Test func lineageThenVerifyFromZeroAndFromACheckpointThenATamperedStore() async throws {
        var template = Array("/tmp/floe-verifycmd-XXXXXX".utf8CString)
        let dir = String(cString: try #require(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (stream, events) in [("orders", "1500"), ("payments", "1000")] {
            try await LogGenerateCommand.parse(["--stream", stream, "--events", events, "--seed", "3", "--out", "\(dir)/\(stream).csv"]).run()
            try await LogLoadCommand.parse(["--log", dir + "/log", "--topic", stream, "--partitions", "2", "\(dir)/\(stream).csv"]).run()
        }
        let storePath = dir + "/store"
        var store = try await StateStore.open(path: storePath)
        var options = PipelineOptions()
        options.barrierIntervalMillis = 3
        options.chunkRows = 50
        options.parallelism = 2
        options.maxEpochs = 3
        _ = try await Pipeline(store: store, builder: try await PipelineQuery.builder(log: dir + "/log", query: "all", latenessMs: nil),
                               options: options).run()
        let mid = try await store.createCheckpoint(name: "mid")
        options.maxEpochs = nil
        options.untilEnd = true
        _ = try await Pipeline(store: store, builder: try await PipelineQuery.builder(log: dir + "/log", query: "all", latenessMs: nil),
                               options: options).run()
        let committed = store.committedEpoch
        try await store.close()

        try await PipelineLineageCommand.parse(["--path", storePath]).run()
        try await PipelineLineageCommand.parse(["--path", storePath, "--epoch", "2", "--json"]).run()
        await #expect(throws: (any Error).self) { try await PipelineLineageCommand.parse(["--path", storePath, "--epoch", "\(committed + 5)"]).run() }

        try await PipelineVerifyCommand.parse(["--log", dir + "/log", "--path", storePath]).run()
        try await PipelineVerifyCommand.parse(["--log", dir + "/log", "--path", storePath, "--checkpoint", "mid", "--parallelism", "3"]).run()
        try await PipelineVerifyCommand.parse(["--log", dir + "/log", "--path", storePath, "--from-epoch", "\(mid.epoch)"]).run()
        await #expect(throws: (any Error).self) {
            try await PipelineVerifyCommand.parse(["--log", dir + "/log", "--path", storePath, "--from-epoch", "\(mid.epoch + 1)"]).run()
        }

        // A recorded digest changed: exit code 1.
        store = try await StateStore.open(path: storePath)
        var record = try #require(try await EpochLineage.read(store: store, epoch: 2))
        record.views[EoViews.revenue]!.rows += 1
        try store.put(EpochLineage.table, key: EpochLineage.key(2), value: record.encode(), epoch: committed + 1)
        var last = try #require(try await EpochLineage.read(store: store, epoch: committed))
        last.epoch = committed + 1
        last.sources = last.sources.map { .init(source: $0.source, start: $0.end, end: $0.end) }
        try store.put(EpochLineage.table, key: EpochLineage.key(committed + 1), value: last.encode(), epoch: committed + 1)
        try await store.checkpoint(epoch: committed + 1, metadata: store.committedMetadata)
        try await store.close()
        await #expect(throws: ExitCode(1)) { try await PipelineVerifyCommand.parse(["--log", dir + "/log", "--path", storePath]).run() }
    }
}
