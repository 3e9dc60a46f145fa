import ArgumentParser
import Foundation
import Testing
@testable import Floe
@testable import FloeDataflow
@testable import floe

/// `floe nexmark generate` run as the command line would run it, then `floe log
/// load` of its three files into the topics of their names.
@Suite struct NexmarkGeneratorCommandTests {
    @Test func generateWritesThreeFilesThatLoad() async throws {
        var template = Array("/tmp/floe-nexmarkcmd-XXXXXX".utf8CString)
        let dir = String(cString: try #require(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: dir) }

        // The directory is created; 1,234 events: 25 persons, 75 auctions, 1,134 bids.
        try await NexmarkGenerateCommand.parse(["--events", "1234", "--seed", "9", "--out", dir + "/out"]).run()
        for (stream, rows) in [(NexmarkStreams.Stream.person, 25), (.auction, 75), (.bid, 1134)] {
            let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: dir + "/out/\(stream.topic).csv")), as: UTF8.self)
            let lines = text.split(separator: "\n")
            #expect(lines.count == rows + 1 && lines[0] == stream.schema.names.joined(separator: ","), "\(stream): \(lines.count) lines")
            try await LogLoadCommand.parse(["--log", dir + "/log", "--topic", stream.topic, "--partitions", "2",
                                            dir + "/out/\(stream.topic).csv"]).run()
            let log = try PartitionedLog(directory: dir + "/log", create: false)
            #expect(try await log.endOffsets(stream.topic).reduce(0, +) == UInt64(rows))
        }
        // The same command again writes the same bytes.
        let first = try Data(contentsOf: URL(fileURLWithPath: dir + "/out/bid.csv"))
        try await NexmarkGenerateCommand.parse(["--events", "1234", "--seed", "9", "--out", dir + "/out"]).run()
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/out/bid.csv")) == first)

        // Bad options: a negative count, an output that is a file, a directory that cannot be made.
        #expect(throws: (any Error).self) { _ = try NexmarkGenerateCommand.parse(["--events=-1", "--out", dir + "/x"]) }
        #expect(throws: (any Error).self) { _ = try NexmarkGenerateCommand.parse(["--events", "1", "--inter-event-micros=-5", "--out", dir]) }
        await #expect(throws: ExitCode(1)) {
            try await NexmarkGenerateCommand.parse(["--events", "10", "--out", dir + "/out/bid.csv"]).run()
        }
        await #expect(throws: ExitCode(1)) {
            try await NexmarkGenerateCommand.parse(["--events", "10", "--out", dir + "/missing/parent"]).run()
        }
    }
}
