import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A named place in the sync, commit, checkpoint, compaction, GC and local
/// object store paths where a test or `floe crashtest` injects an error or a crash.
package enum Failpoint: String, CaseIterable, Sendable {
    /// Before each SST upload of `sync`.
    case syncBeforeSstPut = "sync.before_sst_put"
    /// After each SST upload of `sync`.
    case syncAfterSstPut = "sync.after_sst_put"
    /// In `commit`, after the SSTs are uploaded and before the manifest delta is appended.
    case commitBeforeManifest = "commit.before_manifest"
    /// In `commit`, after the manifest delta landed and before the new version is installed.
    case commitAfterManifest = "commit.after_manifest"
    /// After a full manifest checkpoint was written.
    case checkpointAfterWrite = "checkpoint.after_write"
    /// In a compaction, before each output SST is uploaded.
    case compactionBeforeUpload = "compaction.before_upload"
    /// In a compaction, after the outputs are uploaded and before the manifest delta.
    case compactionBeforeCommit = "compaction.before_commit"
    /// In a compaction, after its manifest delta landed and before the version is installed.
    case compactionAfterCommit = "compaction.after_commit"
    /// In object GC, before each batch delete (one per up to 1,000 objects, `ObjectGC`).
    case gcBeforeDelete = "gc.before_delete"
    /// In object GC, after each batch delete returned.
    case gcAfterDelete = "gc.after_delete"
    /// In `LocalObjectStore.put` / `createIfAbsent`, after the temp file is fsynced
    /// and before it is renamed (or linked) into place.
    case objectStoreBeforeRename = "objectstore.before_rename"
    /// In `LocalObjectStore.put` / `createIfAbsent`, after the rename (or link) and
    /// before the directory is fsynced.
    case objectStoreBeforeDirFsync = "objectstore.before_dir_fsync"
}

/// What an armed failpoint does when it is hit, and when.
///
/// Text form (`FLOE_FAILPOINTS`): `[P%][T*]KIND[@N]` with `KIND` one of `off`,
/// `error`, `crash`; `@N` lets the first `N` hits pass (it fires from hit `N+1`
/// on), `P%` fires with probability `P` percent, `T*` fires at most `T` times.
/// Examples: `crash`, `crash@3` (the 4th hit crashes), `1*error` (one error,
/// then the point passes), `25%error`.
package struct FailpointAction: Sendable, Equatable, CustomStringConvertible {
    package enum Kind: String, Sendable, CaseIterable {
        /// The point does nothing.
        case off
        /// The point throws `FloeError.io(path: "failpoint:<name>", reason: "injected")`.
        case error
        /// The point prints its name to stderr and ends the process at once with
        /// `_exit(137)`: no cleanup, no flush, like a kill.
        case crash
    }

    package var kind: Kind
    /// Hits that pass untouched before the point may fire.
    package var skip: Int
    /// Chance in 0...1 that an eligible hit fires.
    package var probability: Double
    /// The most times the point fires; nil for no limit.
    package var limit: Int?

    package init(_ kind: Kind, skip: Int = 0, probability: Double = 1, limit: Int? = nil) {
        self.kind = kind
        self.skip = skip
        self.probability = probability
        self.limit = limit
    }

    package static let off = FailpointAction(.off)
    package static let error = FailpointAction(.error)
    package static let crash = FailpointAction(.crash)

    /// Parses the text form; throws `FloeError.invalidArgument` naming what is wrong.
    package static func parse(_ text: String) throws -> FailpointAction {
        var rest = Substring(text)
        var probability = 1.0
        var limit: Int?
        var skip = 0
        if let i = rest.firstIndex(of: "%") {
            guard let p = Double(rest[..<i]), p >= 0, p <= 100 else {
                throw FloeError.invalidArgument("failpoint action \"\(text)\": probability must be a percentage in 0...100")
            }
            probability = p / 100
            rest = rest[rest.index(after: i)...]
        }
        if let i = rest.firstIndex(of: "*") {
            guard let t = Int(rest[..<i]), t >= 0 else {
                throw FloeError.invalidArgument("failpoint action \"\(text)\": the count before * must be a non-negative integer")
            }
            limit = t
            rest = rest[rest.index(after: i)...]
        }
        if let i = rest.firstIndex(of: "@") {
            guard let n = Int(rest[rest.index(after: i)...]), n >= 0 else {
                throw FloeError.invalidArgument("failpoint action \"\(text)\": the hit count after @ must be a non-negative integer")
            }
            skip = n
            rest = rest[..<i]
        }
        guard let kind = Kind(rawValue: String(rest)) else {
            throw FloeError.invalidArgument("failpoint action \"\(text)\": unknown action \"\(rest)\" (use off, error or crash)")
        }
        return FailpointAction(kind, skip: skip, probability: probability, limit: limit)
    }

    /// The text form, which `parse` reads back.
    package var description: String {
        var s = ""
        if probability < 1 { s += "\(probability * 100)%" }
        if let limit { s += "\(limit)*" }
        s += kind.rawValue
        if skip > 0 { s += "@\(skip)" }
        return s
    }
}

/// The failpoint facility: the global switch, the list of points and the
/// `FLOE_FAILPOINTS` environment variable.
///
/// Cost when off: `FailpointRegistry.hit` is one relaxed load of `enabled`
/// before anything else. The flag becomes true when any registry arms a point
/// and stays true; from then on each hit takes one uncontended lock.
package enum Failpoints {
    /// True once any failpoint was armed in this process.
    package static let enabled = Atomic<Bool>(false)

    /// Every failpoint name, in the order of the write path.
    package static let all: [String] = Failpoint.allCases.map(\.rawValue)

    /// The environment variable read once per process: `name=action,name=action`.
    package static let environmentVariable = "FLOE_FAILPOINTS"
    /// Seeds the draws of probabilistic failpoints set through the environment (default 0).
    package static let seedVariable = "FLOE_FAILPOINTS_SEED"

    /// Parses `name=action,name=action` (see `FailpointAction` for actions).
    /// Throws `FloeError.invalidArgument` for an unknown name, a bad action, a
    /// name given twice or an entry without `=`.
    package static func parse(_ text: String) throws -> [Failpoint: FailpointAction] {
        var out: [Failpoint: FailpointAction] = [:]
        for entry in text.split(separator: ",", omittingEmptySubsequences: true) {
            let trimmed = entry.trimmingSpaces
            if trimmed.isEmpty { continue }
            guard let eq = trimmed.firstIndex(of: "=") else {
                throw FloeError.invalidArgument("failpoint entry \"\(trimmed)\" has no '=' (expected name=action)")
            }
            let name = String(trimmed[..<eq])
            guard let point = Failpoint(rawValue: name) else {
                throw FloeError.invalidArgument("unknown failpoint \"\(name)\" (known: \(all.joined(separator: ", ")))")
            }
            guard out[point] == nil else { throw FloeError.invalidArgument("failpoint \"\(name)\" is given twice") }
            out[point] = try FailpointAction.parse(String(trimmed[trimmed.index(after: eq)...]))
        }
        return out
    }

    /// The text form of `actions`, which `parse` reads back (sorted by name).
    package static func format(_ actions: [Failpoint: FailpointAction]) -> String {
        actions.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue)=\($0.value)" }.joined(separator: ",")
    }

    /// The process registry built from `FLOE_FAILPOINTS`, or the error parsing it.
    private static let environment: Result<FailpointRegistry, FloeError> = {
        let seed = getenv(seedVariable).flatMap { UInt64(String(cString: $0)) } ?? 0
        guard let raw = getenv(environmentVariable) else { return .success(FailpointRegistry([:], seed: seed, parent: nil)) }
        do {
            return .success(FailpointRegistry(try parse(String(cString: raw)), seed: seed, parent: nil))
        } catch let e as FloeError {
            return .failure(.invalidArgument("\(environmentVariable): \(e)"))
        } catch {
            return .failure(.invalidArgument("\(environmentVariable): \(error)"))
        }
    }()

    /// The registry armed from `FLOE_FAILPOINTS`, parsed on first use. Throws
    /// `FloeError.invalidArgument` when the variable does not parse: stores and
    /// object stores refuse to open rather than run without the requested points.
    package static func process() throws -> FailpointRegistry {
        try environment.get()
    }

    /// The process registry, or an empty one when `FLOE_FAILPOINTS` does not parse
    /// (for places that cannot throw; `process()` reports the error where a store opens).
    static var processOrEmpty: FailpointRegistry {
        (try? environment.get()) ?? FailpointRegistry([:], parent: nil)
    }

    /// Ends the process the way a `crash` action does.
    static func crash(_ point: Failpoint) -> Never {
        let message = Array("floe: failpoint \(point.rawValue) crashed the process\n".utf8)
        message.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
        _exit(137)
    }
}

/// A set of armed failpoints with their hit counters. A store holds one built
/// from `StoreOptions.failpoints` whose parent is the process registry
/// (`FLOE_FAILPOINTS`); a hit consults the store's own points, then the parent's.
package final class FailpointRegistry: Sendable {
    private struct Armed {
        var action: FailpointAction
        var hits = 0
        var fired = 0
    }

    private struct State {
        var armed: [Failpoint: Armed] = [:]
        var rng: SplitMix64
    }

    private let state: Lock<State>
    private let parent: FailpointRegistry?

    /// Arms `actions`; `seed` drives probabilistic points; `parent` is consulted after this registry.
    package init(_ actions: [Failpoint: FailpointAction], seed: UInt64 = 0, parent: FailpointRegistry?) {
        self.parent = parent
        self.state = Lock(State(rng: SplitMix64(seed: seed)))
        for (p, a) in actions { set(p, a) }
    }

    /// The registry of one store or compactor: `actions` of its own (tests arm more
    /// later through `set`), then the process registry.
    package static func forStore(_ actions: [Failpoint: FailpointAction]) throws -> FailpointRegistry {
        FailpointRegistry(actions, parent: try Failpoints.process())
    }

    /// Arms (or, with `.off`, disarms) `point`, resetting its counters.
    package func set(_ point: Failpoint, _ action: FailpointAction) {
        state.withLock { s in
            if action.kind == .off { s.armed[point] = nil } else { s.armed[point] = Armed(action: action) }
        }
        if action.kind != .off { Failpoints.enabled.store(true, ordering: .relaxed) }
    }

    /// Hits of `point` since it was armed here (0 when it is not armed here).
    package func hits(_ point: Failpoint) -> Int { state.withLock { $0.armed[point]?.hits ?? 0 } }

    /// Times `point` fired since it was armed here.
    package func fired(_ point: Failpoint) -> Int { state.withLock { $0.armed[point]?.fired ?? 0 } }

    /// Passes through `point`: throws or crashes when it is armed and fires.
    @inline(__always)
    package func hit(_ point: Failpoint) throws {
        guard Failpoints.enabled.load(ordering: .relaxed) else { return }
        try slowHit(point)
    }

    @inline(never)
    private func slowHit(_ point: Failpoint) throws {
        let kind: FailpointAction.Kind = state.withLock { s in
            guard var a = s.armed[point] else { return .off }
            defer { s.armed[point] = a }
            a.hits += 1
            if a.hits <= a.action.skip { return .off }
            if let limit = a.action.limit, a.fired >= limit { return .off }
            let p = a.action.probability
            // A certain outcome draws nothing, so it does not shift the other points' draws.
            let fires = p >= 1 || (p > 0 && Double(s.rng.next() >> 11) * 0x1p-53 < p)
            guard fires else { return .off }
            a.fired += 1
            return a.action.kind
        }
        switch kind {
        case .off: try parent?.hit(point)
        case .error: throw FloeError.io(path: "failpoint:\(point.rawValue)", reason: "injected")
        case .crash: Failpoints.crash(point)
        }
    }
}

private extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}
