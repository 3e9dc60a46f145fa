import Floe

/// Placeholder until the sinks branch lands (same signatures).
public protocol ViewSink: Sendable {
    func deliveredEpoch(view: String) throws -> Epoch
    func deliver(view: String, epoch: Epoch, changes: Chunk) throws
    func rows(view: String) throws -> [[String]]
}
