import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Floe
import FloeTesting

// Helpers shared by the store-level suites (model, corruption, faults, budget).

/// One `(table, user key)` of a test model. Ordered like the store orders keys:
/// table ascending, then user key bytewise (a prefix sorts first).
struct ModelKey: Hashable, Comparable, CustomStringConvertible {
    var table: UInt32
    var key: [UInt8]

    init(_ table: UInt32, _ key: [UInt8]) {
        self.table = table
        self.key = key
    }

    static func < (a: ModelKey, b: ModelKey) -> Bool {
        if a.table != b.table { return a.table < b.table }
        return a.key.lexicographicallyPrecedes(b.key)
    }

    var description: String { "t\(table):\(key)" }
}

/// One scanned row, comparable as a whole.
struct Row: Equatable, CustomStringConvertible {
    var key: [UInt8]
    var value: [UInt8]
    var description: String { "\(key)=\(value.count)B" }
}

/// Drains a scan into rows (errors from `next()` propagate).
func collectRows(_ scan: ScanResult) async throws -> [Row] {
    var rows: [Row] = []
    for try await (k, v) in scan { rows.append(Row(key: k, value: v)) }
    return rows
}

/// The rows a scan of `table` over `[from, to)` must return from `map`.
func expectedRows(_ map: [ModelKey: [UInt8]], table: UInt32, from: [UInt8]?, to: [UInt8]?) -> [Row] {
    map.filter { k, _ in
        k.table == table
            && (from.map { !k.key.lexicographicallyPrecedes($0) } ?? true)
            && (to.map { k.key.lexicographicallyPrecedes($0) } ?? true)
    }
    .sorted { $0.key < $1.key }
    .map { Row(key: $0.key.key, value: $0.value) }
}

/// Runs `body`, returning its value or the `FloeError` it threw. Any other error
/// is recorded as an issue (every failure Floe reports must be typed).
func capture<T>(_ body: () async throws -> T, sourceLocation: SourceLocation = #_sourceLocation) async -> Result<T, FloeError> {
    do {
        return .success(try await body())
    } catch let error as FloeError {
        return .failure(error)
    } catch {
        Issue.record("untyped error: \(error)", sourceLocation: sourceLocation)
        return .failure(.invalidArgument("untyped error: \(error)"))
    }
}

/// Equal errors, comparing only the case for errors whose payload is free text.
func sameError(_ a: FloeError, _ b: FloeError) -> Bool {
    switch (a, b) {
    case (.commitOutOfOrder, .commitOutOfOrder), (.invalidArgument, .invalidArgument), (.fenced, .fenced):
        return true
    default:
        return a == b
    }
}

/// The object a corruption / not-found / unsupported-format error names, if any.
func erroredObject(_ e: FloeError) -> String? {
    switch e {
    case let .corruption(object, _, _): return object
    case let .objectNotFound(path): return path
    case let .unsupportedFormat(object, _): return object
    default: return nil
    }
}

extension UInt64 {
    /// Little-endian bytes, for metadata values such as source offsets.
    var leBytes: [UInt8] { withUnsafeBytes(of: littleEndian) { Array($0) } }
}

extension Result {
    /// The error of a failed result, or nil.
    var failureValue: Failure? {
        if case let .failure(e) = self { return e }
        return nil
    }
}

/// A whole file's bytes, read with POSIX calls; nil when it cannot be opened.
/// Foundation's `FileManager.contents(atPath:)` is not used: under LeakSanitizer
/// its read buffer is reported as leaked, which fails `make asan`.
func readWholeFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 << 10)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { return nil }
        if n == 0 { return bytes }
        bytes.append(contentsOf: chunk[0..<n])
    }
}


/// An object store that counts the reads it serves (whole and ranged: how many,
/// how many bytes, the most at once) and can hold each ranged read of an SST for
/// `sstReadDelayMillis`, as a remote store would, or until `releaseSstReads()`
/// after `holdSstReads()`.
final class ReadCountingStore: ObjectStore {
    let inner: MemoryObjectStore
    let sstReadDelayMillis: Int
    // Sendable: the hold flag and its waiters are behind this lock.
    private let gate = Lock((holding: false, waiting: [CheckedContinuation<Void, Never>]()))
    let bytes = Atomic<Int>(0)
    let reads = Atomic<Int>(0)
    let inFlight = Atomic<Int>(0)
    let maxInFlight = Atomic<Int>(0)

    init(_ inner: MemoryObjectStore, sstReadDelayMillis: Int = 0) {
        self.inner = inner
        self.sstReadDelayMillis = sstReadDelayMillis
    }

    func put(_ path: String, _ b: [UInt8]) async throws { try await inner.put(path, b) }
    func createIfAbsent(_ path: String, _ b: [UInt8]) async throws -> Bool { try await inner.createIfAbsent(path, b) }
    func get(_ path: String) async throws -> [UInt8] { counted(try await inner.get(path)) }
    func get(_ path: String, range: Range<Int>) async throws -> [UInt8] {
        let now = inFlight.add(1, ordering: .relaxed).newValue
        maxInFlight.max(now, ordering: .relaxed)
        defer { inFlight.subtract(1, ordering: .relaxed) }
        if sstReadDelayMillis > 0 && path.hasSuffix(".sst") { try await Task.sleep(for: .milliseconds(sstReadDelayMillis)) }
        if path.hasSuffix(".sst") {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let wait = gate.withLock { g -> Bool in
                    if g.holding { g.waiting.append(c) }
                    return g.holding
                }
                if !wait { c.resume() }
            }
        }
        return counted(try await inner.get(path, range: range))
    }

    /// From now on ranged SST reads wait until `releaseSstReads()`.
    func holdSstReads() { gate.withLock { $0.holding = true } }

    /// Lets every held read go on; later ones pass.
    func releaseSstReads() {
        let waiting = gate.withLock { g -> [CheckedContinuation<Void, Never>] in
            g.holding = false
            defer { g.waiting = [] }
            return g.waiting
        }
        for c in waiting { c.resume() }
    }
    func size(_ path: String) async throws -> Int { try await inner.size(path) }
    func delete(_ path: String) async throws { try await inner.delete(path) }
    func delete(_ paths: [String]) async throws { try await inner.delete(paths) }
    func list(prefix: String) async throws -> [ObjectInfo] { try await inner.list(prefix: prefix) }

    private func counted(_ b: [UInt8]) -> [UInt8] {
        bytes.add(b.count, ordering: .relaxed)
        reads.add(1, ordering: .relaxed)
        return b
    }

    func reset() {
        bytes.store(0, ordering: .relaxed)
        reads.store(0, ordering: .relaxed)
        maxInFlight.store(0, ordering: .relaxed)
    }
}

/// The seeds `0..<count` of a model-based suite, thinned under `make tsan` (`ModelSeeds`).
func modelSeeds(_ count: Int) -> [UInt64] { ModelSeeds.first(count) }
