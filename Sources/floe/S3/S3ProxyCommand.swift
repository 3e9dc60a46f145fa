import ArgumentParser
import Floe
import FloeTesting
import UnixSignals
#if canImport(Glibc)
import Glibc
#endif

/// `floe s3 proxy`: the seeded fault-injecting proxy (`FaultProxy`) between Floe
/// and an S3 server on loopback, for the S3 slices of `floe crashtest` and
/// `floe eotest` (docs/s3.md, docs/testing.md).
///
/// Prints its endpoint (`http://127.0.0.1:PORT`) as the first line of stdout,
/// then runs until SIGTERM or SIGINT, and then prints one line of totals: the
/// requests forwarded and every fault injected, by kind.
struct S3ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Run a seeded fault-injecting HTTP proxy in front of an S3 server on loopback.",
        discussion: """
            Each request draws from a generator seeded with --seed: with probability --fault-rate it meets a \
            fault, chosen uniformly among --faults (conditional-conflict only on conditional puts). Faults: \
            \(ProxyFault.allCases.map(\.rawValue).joined(separator: ", ")); "all" is every one but stall. \
            Which request meets which draw depends on the order requests arrive in. The first line of stdout \
            is the proxy's endpoint; on SIGTERM or SIGINT it prints the totals and exits 0.
            """)

    @Option(help: ArgumentHelp("The S3 server: http://127.0.0.1:PORT (or localhost).", valueName: "url")) var upstream: String
    @Option(help: ArgumentHelp("Address to listen on: 127.0.0.1:PORT (0: a free port).", valueName: "addr")) var listen = "127.0.0.1:0"
    @Option(help: "Seed of the fault draws.") var seed: UInt64 = 1
    @Option(help: "Chance in 0...1 that a request meets a fault.") var faultRate: Double = 0.05
    @Option(help: ArgumentHelp("Comma-separated faults to draw from, or all.", valueName: "list")) var faults = "all"

    /// The port of `--listen`.
    var listenPort: Int? {
        guard listen.hasPrefix("127.0.0.1:") || listen.hasPrefix("localhost:") else { return nil }
        guard let port = Int(listen.split(separator: ":").last ?? ""), (0...65535).contains(port) else { return nil }
        return port
    }

    func validate() throws {
        guard faultRate >= 0, faultRate <= 1 else { throw ValidationError("--fault-rate must be in 0...1") }
        guard listenPort != nil else { throw ValidationError("--listen must be 127.0.0.1:PORT with PORT in 0...65535, got '\(listen)'") }
        do { _ = try ProxyFault.parseList(faults) } catch { throw ValidationError("--faults: \(error)") }
    }

    func run() async throws {
        let kinds = try ProxyFault.parseList(faults)
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let proxy: FaultProxy
        do {
            proxy = try FaultProxy(upstream: upstream, listenPort: listenPort ?? 0,
                                   plan: FaultProxy.seededPlan(seed: seed, rate: faultRate, kinds: kinds))
        } catch {
            InspectFormat.printError("s3 proxy: \(error)")
            throw ExitCode(2)
        }
        print(proxy.endpoint)
        print("floe s3 proxy: \(listen) -> \(upstream), seed \(seed), fault rate \(faultRate), faults \(kinds.map(\.rawValue).joined(separator: ","))")
        fflush(nil)
        var caught = "end of signals"
        for await signal in signals {
            caught = signal == .sigterm ? "SIGTERM" : "SIGINT"
            break
        }
        proxy.stop()
        print("floe s3 proxy: stopped by \(caught); \(proxy.summary)")
        fflush(nil)
    }
}
