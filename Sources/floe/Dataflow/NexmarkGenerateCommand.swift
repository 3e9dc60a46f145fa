#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Floe
import FloeDataflow

/// `floe nexmark generate --events N --seed S --out DIR`: writes
/// `DIR/person.csv`, `DIR/auction.csv` and `DIR/bid.csv`.
struct NexmarkGenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write the first N Nexmark events as person.csv, auction.csv and bid.csv.",
        discussion: """
            Event i of the reference Nexmark mix (1 person, 3 auctions, 46 bids in every 50 events) \
            is a pure function of the seed and i (docs/nexmark.md), so the same command always writes \
            the same files. Each file has a header of its stream's column names; `floe log load` of it \
            into the topic of the same name checks every value against the stream's schema. The \
            directory is created when missing (its parent must exist). Prints each file's row count \
            and the seconds taken.
            """)

    @Option(help: "Number of global events (all three streams together).") var events: Int64
    @Option(help: "Seed of the streams.") var seed: UInt64 = 1
    @Option(help: "Microseconds between consecutive events (the reference's 10,000 events/s: 100).")
    var interEventMicros: Int64 = NexmarkConfig.defaultInterEventMicros
    @Option(help: "Output directory (created if missing; the three files are replaced).") var out: String

    func validate() throws {
        guard events >= 0 else { throw ValidationError("--events must not be negative, not \(events)") }
        guard interEventMicros >= 0 else { throw ValidationError("--inter-event-micros must not be negative, not \(interEventMicros)") }
        guard events <= Self.maxEvents(interEventMicros: interEventMicros) else {
            throw ValidationError("--events \(events) × --inter-event-micros \(interEventMicros) runs past the timestamp range")
        }
    }

    func run() async throws {
        let generator = NexmarkGenerator(config: NexmarkConfig(seed: seed, interEventMicros: interEventMicros))
        let start = Timer.now()
        do {
            try Self.makeDirectory(out)
            for stream in NexmarkStreams.Stream.allCases {
                let path = out + "/" + stream.topic + ".csv"
                let rows = try NexmarkCsv.write(stream, generator: generator, events: UInt64(events), to: path)
                print("\(stream.topic): \(rows) rows to \(path)")
            }
        } catch {
            throw InspectFormat.failure(error)
        }
        let seconds = Timer.now() - start
        print("wrote \(events) events (seed \(seed)) in \(fmt(seconds, 3)) s: \(grouped(Double(events) / max(seconds, 1e-9))) events/s")
    }

    /// The most global events whose times, and auction expiries (at most 2 × 1666
    /// events' time later), stay within 64-bit microseconds at `interEventMicros` (≥ 0).
    static func maxEvents(interEventMicros: Int64) -> Int64 {
        let millisLeft = Int64.max / 1000 - NexmarkConfig().baseTimeMicros / 1000
        return millisLeft / 3 / max(interEventMicros, 1) * 1000 - Int64(NexmarkGenerator.eventsPerInFlightAuctions)
    }

    /// Creates directory `path` unless it exists. Throws `FloeError.io` naming it.
    static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) == 0 { return }
        let err = errno
        var st = stat()
        if err == EEXIST, stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { return }
        throw FloeError.io(path: path, reason: err == EEXIST ? "exists and is not a directory" : "mkdir: \(String(cString: strerror(err)))")
    }
}
