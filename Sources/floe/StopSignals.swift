import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The stop signals of `floe compact` and `floe pipeline run`, as a service of
/// their `ServiceGroup`: it waits for the first SIGINT or SIGTERM, records which,
/// and returns, and the group (configured with `.gracefullyShutdownGroup` for
/// it) shuts the other services down gracefully: the running compaction task or
/// pipeline epoch finishes. From the first signal on, both signals take their
/// default action again, so a second one kills the process.
final class StopSignalService: Service, Sendable {
    private let caught = Atomic<Int32>(0)

    /// The signal that arrived (SIGINT or SIGTERM), or 0.
    var signal: Int32 { caught.load(ordering: .acquiring) }

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        // Ends without a signal when the group shuts down for another reason.
        await cancelWhenGracefulShutdown {
            for await s in signals {
                self.caught.store(s.rawValue, ordering: .releasing)
                _ = Glibc.signal(SIGINT, SIG_DFL)
                _ = Glibc.signal(SIGTERM, SIG_DFL)
                return
            }
        }
    }

    /// A group of `main` (whose end, by success or error, ends the group), this
    /// signal service, and `background` services that run until graceful shutdown
    /// (the metrics endpoint). Shutdown order is the reverse of the list: signals,
    /// then `main`, then the background services, so `/metrics` answers until the end.
    func group(main: any Service, background: [any Service], logger: Logger) -> ServiceGroup {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = background.map {
            .init(service: $0, successTerminationBehavior: .ignore, failureTerminationBehavior: .gracefullyShutdownGroup)
        }
        services.append(.init(service: main, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .cancelGroup))
        services.append(.init(service: self, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup))
        return ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: logger))
    }
}
