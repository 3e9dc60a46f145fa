import ArgumentParser
import FloeDataflow

/// `floe log generate --stream orders|payments --events N --seed S --out FILE.csv`.
struct LogGenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write events of the orders or payments stream as CSV.",
        discussion: """
            Event i is a pure function of the seed and i (docs/dataflow.md), so the same command \
            always writes the same file, and `floe log load` of it into the topic of the stream's \
            name checks every value against the stream's schema.
            """)

    @Option(help: "The stream: orders or payments.") var stream: String
    @Option(help: "Number of events.") var events: UInt64
    @Option(help: "Seed of the stream.") var seed: UInt64 = 1
    @Option(help: "Microseconds between consecutive events.") var interEventMicros: Int64 = 10_000
    @Option(help: "Move each event's time earlier by a seeded 0...N microseconds (out-of-order streams; 0: in order).")
    var disorderMicros: Int64 = 0
    @Option(help: "Output CSV file (created or replaced).") var out: String

    func validate() throws {
        guard EoStreams.Stream(rawValue: stream) != nil else {
            throw ValidationError("--stream must be one of: \(EoStreams.Stream.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard interEventMicros >= 0 else { throw ValidationError("--inter-event-micros must not be negative") }
        guard (0...EoStreams.baseTimeMicros).contains(disorderMicros) else {
            throw ValidationError("--disorder-micros must be in 0...\(EoStreams.baseTimeMicros)")
        }
        // Event times must stay within the 64-bit microsecond range.
        let room = (Int64.max - EoStreams.baseTimeMicros - EoStreams.paymentDelayMicros) / max(interEventMicros, 1)
        guard events <= UInt64(room) else {
            throw ValidationError("--events \(events) × --inter-event-micros \(interEventMicros) runs past the timestamp range")
        }
    }

    func run() async throws {
        let generator = EoGenerator(stream: EoStreams.Stream(rawValue: stream)!, seed: seed, interEventMicros: interEventMicros,
                                    disorderMicros: disorderMicros)
        do {
            try generator.writeCsv(events: events, to: out)
        } catch {
            throw InspectFormat.failure(error)
        }
        print("wrote \(events) \(stream) events (seed \(seed)) to \(out)")
    }
}
