import Floe
#if canImport(Glibc)
import Glibc
#endif

/// The seeded plan of one schedule of `floe eotest`: which input it runs on and,
/// for every run of the killed pipeline, its options and how it is killed.
///
/// A schedule is a pure function of (base seed, schedule index, kills, events,
/// schedules per input, query sets): `--first-schedule I --schedules 1` with the
/// same other options replays schedule I with the same input, views and choices.
/// Only where a timed kill lands in the child's work is up to the scheduler.
struct EotestSchedule: Sendable, Equatable {
    /// The input a group of schedules shares: the generated streams, the log they
    /// are loaded into, and the views every pipeline of the group runs over it.
    struct Input: Sendable, Equatable, Hashable {
        /// Schedules `group * perInput ..< (group + 1) * perInput` share it.
        var group: Int
        /// Seed of the generated streams.
        var seed: UInt64
        /// Partitions of every topic (1...4).
        var partitions: Int
        /// Appends each stream is loaded in (1...4): each append is a segment of every
        /// partition, so restarts resume at offsets in any segment and across their ends.
        var segments: Int
        /// Events of each stream (the seeds' streams), or global events (Nexmark).
        var events: Int
        /// The views the group's pipelines run; its family decides the streams generated.
        var query: EotestQuerySet = .eo
    }

    /// How one run of the killed pipeline ends before its work is done.
    enum Kill: Sendable, Equatable, CustomStringConvertible {
        /// SIGKILL while data flows: `delayMs` after the child printed its
        /// `afterCommits`-th `committed` line (0: after the child was started).
        case timed(afterCommits: Int, delayMs: Int)
        /// The child crashes itself (`_exit`, like a kill) at hit `skip + 1` of a store
        /// failpoint of the commit path, armed with `FLOE_FAILPOINTS`.
        case failpoint(Failpoint, skip: Int)
        /// SIGKILL `delayMs` after the start: inside the process start, the store's
        /// open and the recovery (sink catch-up) before the first new commit.
        case recoveryStart(delayMs: Int)
        /// SIGKILL `delayMs` after the child printed its first `committed` line: right
        /// after the recovery's first commit, during its delivery to the sinks.
        case afterFirstCommit(delayMs: Int)

        /// The kind, as the report counts it: timed, failpoint or recovery.
        var kind: String {
            switch self {
            case .timed: "timed"
            case .failpoint: "failpoint"
            case .recoveryStart, .afterFirstCommit: "recovery"
            }
        }

        /// The kill waits for the child's first (or second) commit, so it lands after
        /// one unless the run ends first.
        var waitsForCommit: Bool {
            switch self {
            case let .timed(c, _): c > 0
            case .afterFirstCommit: true
            case .failpoint, .recoveryStart: false
            }
        }

        /// The `FLOE_FAILPOINTS` value of a failpoint kill.
        var failpointEnvironment: String? {
            guard case let .failpoint(point, skip) = self else { return nil }
            return Failpoints.format([point: FailpointAction(.crash, skip: skip)])
        }

        var description: String {
            switch self {
            case let .timed(c, d): c == 0 ? "timed@\(d)ms" : "timed@c\(c)+\(d)ms"
            case let .failpoint(p, skip): "fp:\(p.rawValue)@\(skip)"
            case let .recoveryStart(d): "recovery@\(d)ms"
            case let .afterFirstCommit(d): "recovery:first-commit+\(d)ms"
            }
        }
    }

    /// One run of the killed pipeline (a child process).
    struct Run: Sendable, Equatable {
        var parallelism: Int
        var barrierIntervalMs: Int
        var chunkRows: Int
        var channelCapacity: Int
        /// nil for the last run, which must finish by itself.
        var kill: Kill?

        /// The pipeline options of the run, as `floe pipeline run` arguments.
        var arguments: [String] {
            ["--parallelism", "\(parallelism)", "--barrier-interval-ms", "\(barrierIntervalMs)",
             "--chunk-rows", "\(chunkRows)", "--channel-capacity", "\(channelCapacity)"]
        }
    }

    let index: Int
    /// The seed of every choice of the schedule (printed; derived from the base seed and the index).
    let seed: UInt64
    let input: Input
    /// `kills + 1` runs; every one but the last has a kill.
    let runs: [Run]

    var kills: [Kill] { runs.compactMap(\.kill) }

    /// The failpoints a failpoint kill arms (the commit, sync and object store paths of
    /// the epochs, and the commit path of the background compaction, which the
    /// pipeline's store runs after a few epochs), with the hits skipped before the crash
    /// drawn below `skipBound`: about the hits of one short run, so that the point
    /// fires mid-run (a run that ends first counts the kill as missed).
    /// (`checkpoint.after_write` is left out: the store writes a manifest checkpoint
    /// every 64 commits, which a schedule's few dozen epochs hardly ever reach.)
    static let failpoints: [(point: Failpoint, skipBound: Int)] = [
        (.commitBeforeManifest, 4), (.commitAfterManifest, 4), (.syncBeforeSstPut, 4), (.syncAfterSstPut, 4),
        (.objectStoreBeforeRename, 8), (.objectStoreBeforeDirFsync, 8),
        (.compactionBeforeUpload, 2), (.compactionBeforeCommit, 2), (.compactionAfterCommit, 2),
    ]
    /// Bounds of the seeded choices.
    static let parallelisms = 1...4
    static let partitionCounts = 1...4
    static let segmentCounts = 1...4
    static let barrierIntervalsMs = 5...100
    static let chunkRowChoices = [32, 64, 128, 256]
    static let channelCapacities = 1...4
    /// A timed kill counts from the start (0) or from the first or second commit.
    static let timedAfterCommits = 0...2
    static let timedDelaysFromStartMs = 20...250
    static let timedDelaysAfterCommitMs = 0...100
    static let recoveryStartDelaysMs = 1...60
    static let afterFirstCommitDelaysMs = 0...5

    /// The seed of schedule `index` under `base`.
    static func seed(base: UInt64, index: Int) -> UInt64 { derive(base, UInt64(index), salt: 0x5C4E_D01E) }

    /// The input of `group` under `base`: its views are `queries[group % queries.count]`
    /// (`queries` not empty), its events `events`, or the views' default when nil.
    static func input(base: UInt64, group: Int, events: Int?, queries: [EotestQuerySet] = [.eo]) -> Input {
        var rng = SplitMix64(seed: derive(base, UInt64(group), salt: 0x1A9D_7E55))
        let seed = rng.next()
        let partitions = draw(partitionCounts, &rng)
        let segments = draw(segmentCounts, &rng)
        let query = queries[group % queries.count]
        return Input(group: group, seed: seed, partitions: partitions, segments: segments, events: events ?? query.defaultEvents,
                     query: query)
    }

    /// The schedule `index` of a run with base seed `base`, whose input groups rotate
    /// through `queries` (not empty) with `events` each (nil: each set's default).
    /// `objectStoreFailpoints` false (a store on S3) leaves out the local object store's
    /// failpoints (`object_store.*`), which an S3 store never reaches.
    init(base: UInt64, index: Int, kills: Int, events: Int?, schedulesPerInput: Int, queries: [EotestQuerySet] = [.eo],
         objectStoreFailpoints: Bool = true) {
        self.index = index
        seed = Self.seed(base: base, index: index)
        input = Self.input(base: base, group: index / schedulesPerInput, events: events, queries: queries)
        var rng = SplitMix64(seed: seed)
        var runs: [Run] = []
        var previous = 0
        for r in 0...kills {
            // A different parallelism on every restart.
            var parallelism = Self.draw(Self.parallelisms, &rng)
            if parallelism == previous { parallelism = parallelism % Self.parallelisms.upperBound + 1 }
            previous = parallelism
            let run = Run(parallelism: parallelism, barrierIntervalMs: Self.drawLogUniform(Self.barrierIntervalsMs, &rng),
                          chunkRows: Self.chunkRowChoices[Int(rng.next() % UInt64(Self.chunkRowChoices.count))],
                          channelCapacity: Self.draw(Self.channelCapacities, &rng),
                          kill: r < kills ? Self.kill(&rng, objectStoreFailpoints: objectStoreFailpoints) : nil)
            runs.append(run)
        }
        // A schedule is conclusive only if a kill lands after a committed epoch: when
        // no kill waits for a commit, the first one (whose run has the whole input
        // ahead of it) does.
        if kills > 0 && !runs.contains(where: { $0.kill?.waitsForCommit ?? false }) {
            runs[0].kill = .timed(afterCommits: 1, delayMs: Self.draw(Self.timedDelaysAfterCommitMs, &rng))
        }
        self.runs = runs
    }

    /// The failpoints a store on S3 reaches: all of `failpoints` but the local object store's.
    static let remoteFailpoints = failpoints.filter { $0.point != .objectStoreBeforeRename && $0.point != .objectStoreBeforeDirFsync }

    private static func kill(_ rng: inout SplitMix64, objectStoreFailpoints: Bool) -> Kill {
        let failpoints = objectStoreFailpoints ? Self.failpoints : Self.remoteFailpoints
        switch rng.next() % 3 {
        case 0:
            let commits = draw(timedAfterCommits, &rng)
            return .timed(afterCommits: commits, delayMs: draw(commits == 0 ? timedDelaysFromStartMs : timedDelaysAfterCommitMs, &rng))
        case 1:
            let (point, bound) = failpoints[Int(rng.next() % UInt64(failpoints.count))]
            return .failpoint(point, skip: Int(rng.next() % UInt64(bound)))
        default:
            if rng.next() % 2 == 0 { return .recoveryStart(delayMs: draw(recoveryStartDelaysMs, &rng)) }
            return .afterFirstCommit(delayMs: draw(afterFirstCommitDelaysMs, &rng))
        }
    }

    private static func draw(_ range: ClosedRange<Int>, _ rng: inout SplitMix64) -> Int {
        range.lowerBound + Int(rng.next() % UInt64(range.count))
    }

    /// Drawn so that every doubling of the value is about as likely (5...10 ms as
    /// likely as 50...100 ms): short intervals, which give many epochs per run, are
    /// not starved by the long ones.
    private static func drawLogUniform(_ range: ClosedRange<Int>, _ rng: inout SplitMix64) -> Int {
        let u = Double(rng.next() >> 11) / Double(1 << 53)
        let lo = Double(range.lowerBound), hi = Double(range.upperBound + 1)
        return min(range.upperBound, Int(lo * pow(hi / lo, u)))
    }

    /// An independent 64-bit value for (base, index, salt).
    static func derive(_ base: UInt64, _ index: UInt64, salt: UInt64) -> UInt64 {
        var g = SplitMix64(seed: base ^ (salt &* 0x9E37_79B9_7F4A_7C15))
        let a = g.next()
        var h = SplitMix64(seed: a &+ (index &+ 1) &* 0xD6E8_FEB8_6659_FD93)
        return h.next()
    }

    /// The plan in one line: input, then per run its parallelism and kill.
    var summary: String {
        let plan = runs.map { r in
            "p\(r.parallelism)/b\(r.barrierIntervalMs)/c\(r.chunkRows)x\(r.channelCapacity)" + (r.kill.map { " \($0)" } ?? " end")
        }
        return "input \(input.group) (query \(input.query), seed \(input.seed), \(input.partitions) partitions, \(input.segments) segments, "
            + "\(input.query.eventsText(input.events))); runs: "
            + plan.joined(separator: ", ")
    }
}
