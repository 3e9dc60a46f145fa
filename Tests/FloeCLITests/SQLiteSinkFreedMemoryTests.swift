import Testing
#if canImport(Glibc)
import Glibc
#endif
import FloeDataflow
@testable import floe

/// The SQLite sink must not read memory the Swift runtime already freed. `floe
/// eotest` found sinks that sometimes failed to open with "prepare ...: more than
/// one statement" for their own single statements: the statement's tail that
/// SQLite returns pointed into the temporary C string Swift had made for the call,
/// and was read after the call, when that string was freed and its end sometimes
/// overwritten by the allocator. glibc can make that deterministic: without the
/// per-thread cache every free goes to the allocator's bins, and `MALLOC_PERTURB_`
/// fills freed memory, so a read of a freed tail finds no terminating zero.
/// Before the fix the pipeline below failed at its first statement (`BEGIN IMMEDIATE`).
@Suite(.serialized, .enabled(if: FloeBinary.path != nil, "the floe executable is not built"))
struct SQLiteSinkFreedMemoryTests {
    @Test(.timeLimit(.minutes(3)))
    func aPipelineWithASQLiteSinkRunsWithFreedMemoryPoisoned() async throws {
        let work = try EotestProcessTests.temporaryWork()
        defer { EotestFiles.remove(work) }
        let log = try PartitionedLog(directory: work + "/log")
        for stream in EoStreams.Stream.allCases {
            let csv = work + "/\(stream.rawValue).csv"
            try EoGenerator(stream: stream, seed: 3).writeCsv(events: 300, to: csv)
            try await CsvLoader.load(file: csv, into: log, topic: stream.topic, partitions: 2)
        }
        let status = try await offCooperativePool { () throws -> ChildProcess.Termination in
            let child = try ChildProcess(
                executable: FloeBinary.path!,
                arguments: ["pipeline", "run", "--log", work + "/log", "--path", work + "/store", "--sink-sqlite", work + "/sink.db",
                            "--until-end", "--barrier-interval-ms", "20"],
                environment: ["GLIBC_TUNABLES": "glibc.malloc.tcache_count=0", "MALLOC_PERTURB_": "165"],
                outputFiles: (work + "/out", work + "/err"))
            return child.waitForExit()
        }
        let err = String(decoding: (try? FileBytes.contents(of: work + "/err")) ?? [], as: UTF8.self)
        #expect(status == .exited(0), "\(status): \(err)")
        #expect(!err.contains("more than one statement"), "\(err)")
    }
}
