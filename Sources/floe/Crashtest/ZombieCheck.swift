import FloeTesting
/// The harness's judgement of what `--zombie` adds to an iteration, from the
/// oracles only: the successor's takeover against the zombie's history as it
/// was when the zombie was paused, and the zombie's records after its resume.
/// (The store's state itself is checked by `RecoveryCheck` against the
/// successor's oracle.)
enum ZombieCheck {
    /// What the successor's takeover at epoch `recovered` means for the zombie's
    /// history `paused` (read while the zombie was stopped).
    struct Takeover: Equatable {
        /// Committed epochs the takeover lost: acknowledged epochs above `recovered`,
        /// and the verified base epoch when `recovered` is below it.
        var lostEpochs: [UInt64] = []
        /// Anything else wrong with the takeover epoch (not counting `lostEpochs`).
        var problems: [String] = []
        /// The zombie's in-doubt epoch at the pause (intent written, no outcome), if any.
        var inDoubtEpoch: UInt64?
        /// The successor recovered the in-doubt epoch (the paused commit had landed).
        var inDoubtRecovered = false
    }

    /// The same rule as a recovery after a kill: `base <= lastAcked <= recovered <=
    /// lastAttempted`, and `recovered` an epoch of the history.
    static func takeover(paused: OracleHistory, recovered: UInt64) -> Takeover {
        var t = Takeover()
        t.lostEpochs = (recovered < paused.baseEpoch ? [paused.baseEpoch] : []) + paused.ackedEpochs(above: recovered)
        if recovered > paused.lastAttempted {
            t.problems.append("the successor took over at epoch \(recovered), above the last epoch the zombie attempted "
                + "(\(paused.lastAttempted)) before its pause")
        } else if paused.state(at: recovered) == nil && recovered >= paused.baseEpoch {
            t.problems.append("the successor took over at epoch \(recovered), which is not an epoch of the zombie's history (aborted or never attempted)")
        }
        t.inDoubtEpoch = paused.openEpoch
        t.inDoubtRecovered = paused.openEpoch == recovered
        return t
    }

    /// What the zombie recorded after its resume.
    struct AfterResume: Equatable {
        /// Epochs whose intent it wrote after the resume.
        var attempted: [UInt64] = []
        /// Its acknowledgements of epochs at or below the takeover epoch: the commit it
        /// was in when paused had landed before the successor's open (legitimate).
        var landedBeforeTakeover: [UInt64] = []
        /// Its acknowledgements of epochs above the takeover epoch: a fenced writer's
        /// commit succeeded. Each is a violation.
        var acksAboveTakeover: [UInt64] = []
        /// Anything else wrong with its records (not counting `acksAboveTakeover`).
        var problems: [String] = []
    }

    /// Judges the zombie's oracle records `before` (read while it was paused) and
    /// `now` (read after it ended): `now` must extend `before`, and no record after
    /// the pause may acknowledge an epoch above `takeover`.
    static func afterResume(before: [OracleRecord], now: [OracleRecord], takeover: UInt64) -> AfterResume {
        var a = AfterResume()
        guard now.count >= before.count, Array(now.prefix(before.count)) == before else {
            a.problems.append("the zombie's oracle no longer starts with the \(before.count) records it held during the pause")
            return a
        }
        for record in now.dropFirst(before.count) {
            switch record {
            case let .intent(epoch, _, _): a.attempted.append(epoch)
            case let .ack(epoch) where epoch <= takeover: a.landedBeforeTakeover.append(epoch)
            case let .ack(epoch): a.acksAboveTakeover.append(epoch)
            case .abort, .base: break
            }
        }
        return a
    }
}
