import ArgumentParser
import FloeDataflow

/// `floe log generate --stream orders|payments|person|auction|bid --events N --seed S --out FILE.csv`.
struct LogGenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write events of the orders, payments or a Nexmark stream (person, auction, bid) as CSV.",
        discussion: """
            Event i is a pure function of the seed and i (docs/dataflow.md, docs/nexmark.md), so the \
            same command always writes the same file, and `floe log load` of it into the topic of the \
            stream's name (into any number of partitions) checks every value against the stream's \
            schema. For orders and payments, --events counts the stream's events; for person, auction \
            and bid it counts global Nexmark events, of which the file holds the stream's share (1, 3 \
            and 46 in every 50), so the three files of one --events and --seed are one consistent \
            Nexmark input (what `floe nexmark generate` writes in one go).
            """)

    @Option(help: "The stream: orders, payments, person, auction or bid.") var stream: String
    @Option(help: "Number of events (for person, auction and bid: global Nexmark events).") var events: UInt64
    @Option(help: "Seed of the stream.") var seed: UInt64 = 1
    @Option(help: "Microseconds between consecutive events (default: 10000 for orders and payments, 100 for the Nexmark streams).")
    var interEventMicros: Int64?
    @Option(help: "Move each event's time earlier by a seeded 0...N microseconds (orders and payments only; 0: in order).")
    var disorderMicros: Int64 = 0
    @Option(help: "Output CSV file (created or replaced).") var out: String

    /// The stream named by `--stream`, of either family.
    enum Kind {
        case eo(EoStreams.Stream)
        case nexmark(NexmarkStreams.Stream)
    }

    /// nil for a name of neither family.
    static func kind(_ stream: String) -> Kind? {
        if let s = EoStreams.Stream(rawValue: stream) { return .eo(s) }
        if let s = NexmarkStreams.Stream(rawValue: stream) { return .nexmark(s) }
        return nil
    }

    func validate() throws {
        guard let kind = Self.kind(stream) else {
            let names = EoStreams.Stream.allCases.map(\.rawValue) + NexmarkStreams.Stream.allCases.map(\.rawValue)
            throw ValidationError("--stream must be one of: \(names.joined(separator: ", "))")
        }
        guard (interEventMicros ?? 0) >= 0 else { throw ValidationError("--inter-event-micros must not be negative") }
        switch kind {
        case .eo:
            guard (0...EoStreams.baseTimeMicros).contains(disorderMicros) else {
                throw ValidationError("--disorder-micros must be in 0...\(EoStreams.baseTimeMicros)")
            }
            // Event times must stay within the 64-bit microsecond range.
            let step = interEventMicros ?? EoStreams.defaultInterEventMicros
            let room = (Int64.max - EoStreams.baseTimeMicros - EoStreams.paymentDelayMicros) / max(step, 1)
            guard events <= UInt64(room) else {
                throw ValidationError("--events \(events) × --inter-event-micros \(step) runs past the timestamp range")
            }
        case .nexmark:
            guard disorderMicros == 0 else { throw ValidationError("--disorder-micros applies to orders and payments only") }
            let step = interEventMicros ?? NexmarkConfig.defaultInterEventMicros
            guard events <= UInt64(NexmarkGenerateCommand.maxEvents(interEventMicros: step)) else {
                throw ValidationError("--events \(events) × --inter-event-micros \(step) runs past the timestamp range")
            }
        }
    }

    func run() async throws {
        let rows: UInt64
        do {
            switch Self.kind(stream)! {
            case let .eo(s):
                let generator = EoGenerator(stream: s, seed: seed, interEventMicros: interEventMicros ?? EoStreams.defaultInterEventMicros,
                                            disorderMicros: disorderMicros)
                try generator.writeCsv(events: events, to: out)
                rows = events
            case let .nexmark(s):
                let config = NexmarkConfig(seed: seed, interEventMicros: interEventMicros ?? NexmarkConfig.defaultInterEventMicros)
                rows = try NexmarkCsv.write(s, generator: NexmarkGenerator(config: config), events: events, to: out)
            }
        } catch {
            throw InspectFormat.failure(error)
        }
        print("wrote \(rows) \(stream) events (seed \(seed)) to \(out)")
    }
}
