import ArgumentParser
import CoreMetrics
import Floe
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// `--log-level`: the CLI's long-running commands (compact, pipeline run, bench,
/// crashtest, eotest) log the library's records to standard error at this level.
/// Without it nothing is logged (the output is what it was before logging existed).
struct LogLevelOption: ParsableArguments {
    @Option(help: ArgumentHelp("Log the store's records to standard error at this level and above (trace, debug, info, notice, warning, error, critical; default: off). Open, recovery, compaction, GC and write stalls log at debug; fencing and corruption at warning.",
                               valueName: "level"))
    var logLevel: Logger.Level?

    /// Bootstraps a standard-error handler and makes `CLILogging.logger` log at
    /// `--log-level`; returns that logger. Without the option: the disabled logger.
    @discardableResult
    func install() -> Logger {
        guard let logLevel else { return CLILogging.logger }
        CLILogging.bootstrap()
        var logger = Logger(label: "floe")
        logger.logLevel = logLevel
        CLILogging.set(logger)
        return logger
    }

    /// `--log-level L` for a child `floe` process, when given.
    var childArguments: [String] { logLevel.map { ["--log-level", $0.rawValue] } ?? [] }
}

enum CLILogging {
    private static let done = Atomic<Bool>(false)
    private static let current = Lock<Logger>(.floeDisabled)

    /// The logger every store and pipeline this process opens gets
    /// (`StoreOptions.logger`): disabled unless `--log-level` was given.
    static var logger: Logger { current.withLock { $0 } }

    static func set(_ logger: Logger) { current.withLock { $0 = logger } }

    /// Bootstraps swift-log with a standard-error handler, once per process (tests
    /// run several commands in one process; `LoggingSystem.bootstrap` traps on a second call).
    static func bootstrap() {
        guard !done.exchange(true, ordering: .acquiringAndReleasing) else { return }
        LoggingSystem.bootstrap { label in StreamLogHandler.standardError(label: label) }
    }

    /// `StoreOptions()` logging through `logger`.
    static func storeOptions() -> StoreOptions {
        var o = StoreOptions()
        o.logger = logger
        return o
    }
}

/// `--metrics-port` / `--metrics-host` of `floe compact`, `floe pipeline run` and `floe bench`.
struct MetricsOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Serve the floe_* metrics in the Prometheus text format at http://HOST:PORT/metrics while the command runs (0: any free port, printed to standard error). Default: off.",
                               valueName: "port"))
    var metricsPort: Int?
    @Option(help: ArgumentHelp("Address the metrics endpoint listens on.", valueName: "host"))
    var metricsHost: String = "127.0.0.1"

    func validate() throws {
        if let metricsPort, !(0...65535).contains(metricsPort) { throw ValidationError("--metrics-port must be in 0...65535") }
    }

    /// Bootstraps swift-metrics with a Prometheus registry and starts the endpoint,
    /// when `--metrics-port` was given. The caller stops it (`MetricsEndpoint.stop`)
    /// or runs it as a service.
    func start(logger: Logger) async throws -> MetricsEndpoint? {
        guard let metricsPort else { return nil }
        let registry = CLIMetrics.bootstrap()
        let endpoint = try await MetricsEndpoint.start(registry: registry, host: metricsHost, port: metricsPort, logger: logger)
        // Read by people and by tests that start the command with port 0.
        CLIMetrics.announce(endpoint)
        return endpoint
    }
}

enum CLIMetrics {
    private static let registry = Lock<PrometheusCollectorRegistry?>(nil)

    /// The process's Prometheus registry, bootstrapped into `MetricsSystem` on first use.
    static func bootstrap() -> PrometheusCollectorRegistry {
        registry.withLock { r in
            if let r { return r }
            let made = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: made)
            // Store and pipeline latencies span 10 µs (a cached commit) to minutes (a stall).
            factory.defaultDurationHistogramBuckets = [
                .microseconds(10), .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5),
                .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1),
                .seconds(5), .seconds(10), .seconds(60),
            ]
            MetricsSystem.bootstrap(factory)
            r = made
            return made
        }
    }

    static func announce(_ endpoint: MetricsEndpoint) {
        FileHandleStderr.write("floe: serving metrics at http://\(endpoint.host):\(endpoint.port)/metrics\n")
    }
}

enum FileHandleStderr {
    static func write(_ s: String) {
        var s = s
        s.withUTF8 { b in _ = Glibc.write(2, b.baseAddress, b.count) }
    }
}

/// A minimal HTTP/1.1 server (SwiftNIO) that answers `GET /metrics` with the
/// registry's Prometheus text exposition and anything else with 404. One
/// response per connection. As a `Service` it runs until graceful shutdown or cancellation.
final class MetricsEndpoint: Service, Sendable {
    let host: String
    let port: Int
    private let channel: any Channel
    private let logger: Logger

    private init(host: String, port: Int, channel: any Channel, logger: Logger) {
        self.host = host
        self.port = port
        self.channel = channel
        self.logger = logger
    }

    static func start(registry: PrometheusCollectorRegistry, host: String, port: Int, logger: Logger) async throws -> MetricsEndpoint {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(registry: registry))
                }
            }
            .bind(host: host, port: port).get()
        let bound = channel.localAddress?.port ?? port
        logger.debug("metrics endpoint listening", metadata: ["floe.metrics.host": .string(host), "floe.metrics.port": .stringConvertible(bound)])
        return MetricsEndpoint(host: host, port: bound, channel: channel, logger: logger)
    }

    /// Closes the listening socket.
    func stop() async {
        try? await channel.close()
    }

    /// Serves until graceful shutdown (or cancellation), then closes the socket.
    func run() async throws {
        await withTaskCancellationOrGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onCancelOrGracefulShutdown: { [channel] in
            channel.close(promise: nil)
        }
    }
}

private final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let registry: PrometheusCollectorRegistry
    private var request: HTTPRequestHead?

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(head): request = head
        case .body: break
        case .end:
            guard let head = request else { return }
            request = nil
            respond(context, head)
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ head: HTTPRequestHead) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        var body = context.channel.allocator.buffer(capacity: 0)
        let status: HTTPResponseStatus
        var headers = HTTPHeaders()
        if path == "/metrics" && (head.method == .GET || head.method == .HEAD) {
            var bytes: [UInt8] = []
            registry.emit(into: &bytes)
            if head.method == .GET { body.writeBytes(bytes) }
            status = .ok
            headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
        } else {
            body.writeString("not found: try GET /metrics\n")
            status = .notFound
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        }
        headers.add(name: "Content-Length", value: "\(body.readableBytes)")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
