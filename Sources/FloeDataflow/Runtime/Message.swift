import Floe

/// What travels on a channel between operator instances. Barriers travel in
/// band: a barrier never overtakes the chunks sent before it.
public enum Message: Sendable {
    case chunk(Chunk)
    /// Ends epoch `epoch`: everything sent before it belongs to that epoch or
    /// earlier. `watermark` (`Watermark`): every row the sender emits after it has
    /// an event time of at least this (`Watermark.none`: no promise).
    case barrier(Epoch, watermark: Int64)
    /// The sender is done; nothing follows on this input.
    case end
}
