import Floe

/// The change of every view's digest in each epoch of a run, reported by the
/// `Materialize` instances at their barrier and taken by the commit loop once the
/// epoch is acknowledged (every instance ended it before it acknowledged, so the
/// sum is complete). Instances report parts; their sum does not depend on how
/// many instances there are (`ViewDigest`).
///
/// Safe to share: the state is under a lock (`Lock`, whose hand-offs TSan sees).
final class ViewDigestDeltas: Sendable {
    private let deltas = Lock<[Epoch: [UInt16: ViewDigest]]>([:])

    /// Instance part `delta` of view `view` (its index) in `epoch`.
    func add(view: UInt16, epoch: Epoch, _ delta: ViewDigest) {
        deltas.withLock { $0[epoch, default: [:]][view, default: ViewDigest()].add(delta) }
    }

    /// Every view's change in `epoch` (views with none are absent), forgotten by the call.
    func take(_ epoch: Epoch) -> [UInt16: ViewDigest] {
        deltas.withLock { $0.removeValue(forKey: epoch) ?? [:] }
    }
}
