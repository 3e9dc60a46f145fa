import Foundation
import Floe
import Testing
@testable import FloeDataflow

/// A fresh directory under /tmp, removed by `remove()`.
struct LogTempDirectory {
    let path: String
    init() throws {
        var template = Array("/tmp/floe-log-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw FloeError.io(path: "/tmp", reason: "mkdtemp failed") }
        path = String(cString: made)
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// The seed of a randomized test: `FLOE_TEST_SEED` when set (to replay a failure),
/// else a fresh random one. Every failure message of such a test starts with it.
func testSeed() -> UInt64 {
    if let text = ProcessInfo.processInfo.environment["FLOE_TEST_SEED"], let seed = UInt64(text) { return seed }
    return UInt64.random(in: 0...UInt64.max)
}

/// Runs `body`; an error it throws is recorded with the seed first, so a failure
/// by error (not only by expectation) names the seed to replay.
func reportingSeed<T>(_ seed: UInt64, _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch {
        Issue.record("seed \(seed): \(error)")
        throw error
    }
}

/// Random field bytes that stress quoting and framing: commas, quotes, CR, LF,
/// zero bytes, multi-byte UTF-8, empty fields and the odd long one.
func randomField(_ g: inout SeededGenerator, longChance: UInt64 = 40) -> [UInt8] {
    let alphabet: [[UInt8]] = [[0x2C], [0x22], [0x0A], [0x0D], [0x0D, 0x0A], [0x00], [0x61], [0x62], [0x20], [0xC3, 0xA9], [0x39], [0xFF]]
    let length: Int
    switch g.next() % longChance {
    case 0: length = 200 + Int(g.next() % 3000)
    case 1, 2, 3: length = 0
    default: length = Int(g.next() % 12)
    }
    var out: [UInt8] = []
    for _ in 0..<length { out += alphabet[Int(g.next() % UInt64(alphabet.count))] }
    return out
}

/// Every row of `partition` of `topic` from `offset` to the end, through the raw
/// reader (reads of at most `step` rows).
func readRaw(_ log: PartitionedLog, _ topic: String, partition: Int, from offset: UInt64 = 0,
             step: Int = 1000, rangeBytes: Int = LogPartitionReader.defaultRangeBytes) async throws -> [[[UInt8]]] {
    var reader = try await log.reader(topic, partition: partition, from: offset, rangeBytes: rangeBytes)
    var rows: [[[UInt8]]] = []
    while true {
        let got = try await reader.readRows(max: step)
        if got.isEmpty { return rows }
        rows += got
    }
}

/// Reads a source partition until it is caught up or ends, in reads of at most
/// `step` rows, returning every row's fields as text-free bytes (string columns)
/// or `ValueText` text (integer columns).
func readSource(_ source: any Source, partition: Int, from offset: UInt64 = 0, steps: () -> Int) async throws -> (rows: [[String]], last: SourceRead) {
    var reader = try await source.reader(partition: partition, from: offset)
    var rows: [[String]] = []
    while true {
        var chunk = Chunk(schema: source.schema)
        let r = try await reader.read(into: &chunk, max: steps())
        guard case let .rows(n) = r else { return (rows, r) }
        precondition(chunk.count == n && chunk.isWellFormed)
        for i in 0..<n { rows.append(chunk.fields(i)) }
    }
}

/// Overwrites the file at `path` with `bytes`.
func overwriteFile(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func fileBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// As `readSource`, for a source whose columns are all strings: the raw bytes.
func readSourceBytes(_ source: any Source, partition: Int, from offset: UInt64 = 0,
                     steps: () -> Int) async throws -> (rows: [[[UInt8]]], last: SourceRead, offset: UInt64) {
    var reader = try await source.reader(partition: partition, from: offset)
    var rows: [[[UInt8]]] = []
    while true {
        var chunk = Chunk(schema: source.schema)
        let r = try await reader.read(into: &chunk, max: steps())
        guard case let .rows(n) = r else { return (rows, r, reader.offset) }
        precondition(chunk.count == n && chunk.isWellFormed)
        for i in 0..<n { rows.append((0..<source.schema.count).map { Array(chunk.bytes($0, i)) }) }
    }
}

/// Nil when the row lists are equal; else where they first differ, briefly
/// (a failure message that does not dump thousands of bytes).
func rowDifference<T: Equatable>(_ got: [T], _ expected: [T]) -> String? {
    if got == expected { return nil }
    let common = zip(got, expected).prefix { $0 == $1 }.count
    if common == min(got.count, expected.count) { return "\(got.count) rows, expected \(expected.count) (the first \(common) equal)" }
    return "\(got.count) rows, expected \(expected.count); row \(common) differs: \(String(describing: got[common]).prefix(200)) vs \(String(describing: expected[common]).prefix(200))"
}
