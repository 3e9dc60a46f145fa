import ArgumentParser
import Foundation
import Testing
@testable import Floe
@testable import FloeDataflow
@testable import floe

/// `floe log generate`, `load` and `show` run as the command line would run them.
@Suite struct LogCommandTests {
    @Test func generateThenLoadThenShow() async throws {
        var template = Array("/tmp/floe-logcmd-XXXXXX".utf8CString)
        let dir = String(cString: try #require(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: dir) }

        let generate = try LogGenerateCommand.parse(["--stream", "payments", "--events", "300", "--seed", "5", "--out", dir + "/p.csv"])
        try await generate.run()
        let written = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/p.csv")))
        let lines = String(decoding: written, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 301 && lines[0] == "payment_id,order_id,status,paid_at")
        #expect(lines[1].hasPrefix("1,1,") && lines[1].hasSuffix(",2026-04-01 10:00:30"))

        let load = try LogLoadCommand.parse(["--log", dir + "/log", "--topic", "payments", "--partitions", "3", dir + "/p.csv"])
        try await load.run()
        let log = try PartitionedLog(directory: dir + "/log", create: false)
        let ends = try await log.endOffsets("payments")
        #expect(ends.count == 3 && ends.reduce(0, +) == 300)

        // A bad value: exit code 1 and nothing appended.
        try Data("payment_id,order_id,status,paid_at\n1,2,confirmed,yesterday\n".utf8).write(to: URL(fileURLWithPath: dir + "/bad.csv"))
        let bad = try LogLoadCommand.parse(["--log", dir + "/log", "--topic", "payments", "--partitions", "3", dir + "/bad.csv"])
        await #expect(throws: ExitCode(1)) { try await bad.run() }
        #expect(try await log.endOffsets("payments") == ends)
        // Another partition count for the existing topic: refused.
        let other = try LogLoadCommand.parse(["--log", dir + "/log", "--topic", "payments", "--partitions", "2", dir + "/p.csv"])
        await #expect(throws: ExitCode(1)) { try await other.run() }

        try await LogShowCommand.parse(["--log", dir + "/log", "--topic", "payments"]).run()
        await #expect(throws: ExitCode(1)) { try await LogShowCommand.parse(["--log", dir + "/log", "--topic", "nope"]).run() }
        #expect(throws: (any Error).self) { _ = try LogGenerateCommand.parse(["--stream", "refunds", "--events", "1", "--out", dir + "/x.csv"]) }
    }

    /// A Nexmark stream: the stream's share of the first N global events, the bytes
    /// `NexmarkCsv` writes (what `floe nexmark generate` writes), loadable into its topic.
    @Test func generateANexmarkStreamThenLoadIt() async throws {
        var template = Array("/tmp/floe-logcmd-XXXXXX".utf8CString)
        let dir = String(cString: try #require(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for stream in NexmarkStreams.Stream.allCases {
            let file = dir + "/\(stream.topic).csv"
            try await LogGenerateCommand.parse(["--stream", stream.topic, "--events", "1000", "--seed", "4", "--out", file]).run()
            let written = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
            #expect(written == NexmarkCsv.text(stream, generator: NexmarkGenerator(seed: 4), events: 1000), "\(stream)")
            try await LogLoadCommand.parse(["--log", dir + "/log", "--topic", stream.topic, "--partitions", "2", file]).run()
            let log = try PartitionedLog(directory: dir + "/log", create: false)
            #expect(try await log.endOffsets(stream.topic).reduce(0, +) == NexmarkEvents.count(of: stream, events: 1000))
        }
        #expect(NexmarkEvents.count(of: .bid, events: 1000) == 920)
        #expect(throws: (any Error).self) {
            _ = try LogGenerateCommand.parse(["--stream", "bid", "--events", "10", "--disorder-micros", "5", "--out", dir + "/x.csv"])
        }
    }
}
