@testable import Floe

/// An object store over another whose `createIfAbsent` of `manifest/` paths can
/// be held: a test stops a process (writer or compactor) right before its
/// manifest append, lets others run, then lets it go on. That is what a paused
/// process (GC pause, SIGSTOP, a suspended VM) looks like to everyone else.
final class GatedObjectStore: ObjectStore {
    let inner: any ObjectStore
    private struct Gate {
        var holding = false
        var waiting: [CheckedContinuation<Void, Never>] = []
    }
    // Sendable: every mutable field is behind this lock (`Lock`, whose hand-offs ThreadSanitizer sees).
    private let gate = Lock(Gate())

    init(_ inner: any ObjectStore) { self.inner = inner }

    /// From now on, manifest appends wait until `release()`.
    func hold() { gate.withLock { $0.holding = true } }

    /// Lets every held append go on; later ones pass.
    func release() {
        let waiting = gate.withLock { g -> [CheckedContinuation<Void, Never>] in
            g.holding = false
            defer { g.waiting = [] }
            return g.waiting
        }
        for c in waiting { c.resume() }
    }

    /// Number of appends waiting at the gate.
    var held: Int { gate.withLock { $0.waiting.count } }

    /// Waits (polling) until an append is held; false after `seconds`.
    func waitUntilHeld(seconds: Double = 120) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        // The condition is checked after the last sleep too: a process (or machine)
        // stalled past the deadline must not turn a reached gate into a failure.
        while true {
            if held > 0 { return true }
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    func createIfAbsent(_ path: String, _ bytes: [UInt8]) async throws -> Bool {
        if path.hasPrefix("manifest/") && path.hasSuffix(".delta") {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let wait = gate.withLock { g -> Bool in
                    guard g.holding else { return false }
                    g.waiting.append(c)
                    return true
                }
                if !wait { c.resume() }
            }
        }
        return try await inner.createIfAbsent(path, bytes)
    }

    func put(_ path: String, _ bytes: [UInt8]) async throws { try await inner.put(path, bytes) }
    func get(_ path: String) async throws -> [UInt8] { try await inner.get(path) }
    func get(_ path: String, range: Range<Int>) async throws -> [UInt8] { try await inner.get(path, range: range) }
    func size(_ path: String) async throws -> Int { try await inner.size(path) }
    func delete(_ path: String) async throws { try await inner.delete(path) }
    func delete(_ paths: [String]) async throws { try await inner.delete(paths) }
    func list(prefix: String) async throws -> [ObjectInfo] { try await inner.list(prefix: prefix) }
}
