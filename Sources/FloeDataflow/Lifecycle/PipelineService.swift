import ServiceLifecycle

/// A running pipeline as a swift-service-lifecycle `Service`: add it to a
/// `ServiceGroup` beside the application's other services.
///
/// `run` runs the pipeline (`Pipeline.run`). Graceful shutdown (SIGTERM or SIGINT
/// through the group) calls `Pipeline.requestStop`: a barrier is injected at once,
/// the epoch it closes is committed and delivered to the sinks, and the service
/// returns, so the running epoch finishes and nothing is left half-written.
/// Cancellation stops at once, keeping what was committed (a restart resumes
/// from it). The report of the run goes to `onReport`.
///
/// The service does not close the store: add a `StoreMaintenanceService` for the
/// store after this service (a group shuts its services down in reverse order), or
/// close it after the group returns.
public final class PipelineService: Service, Sendable {
    public let pipeline: Pipeline
    private let onReport: @Sendable (PipelineReport) -> Void

    public init(pipeline: Pipeline, onReport: @escaping @Sendable (PipelineReport) -> Void = { _ in }) {
        self.pipeline = pipeline
        self.onReport = onReport
    }

    public func run() async throws {
        let pipeline = pipeline
        let report = try await withGracefulShutdownHandler {
            try await pipeline.run()
        } onGracefulShutdown: {
            pipeline.requestStop()
        }
        onReport(report)
    }
}
