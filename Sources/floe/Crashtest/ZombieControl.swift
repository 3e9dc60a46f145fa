/// The words `floe crashtest --zombie` shares with its zombie worker (writer A)
/// through a `SharedCounter` mapping of `DIR/zombie.control`. Each word has one
/// writer:
///
/// - `phase` (the worker writes): where the worker is, so the harness can pause
///   it inside a commit and knows whether the pause landed there;
/// - `pauseRequested` (the harness writes): the worker stops itself (SIGSTOP)
///   right after the intent of its next epoch is fsynced, before its
///   `checkpoint` call, so its first act after the resume is that commit;
/// - `resumed` (the harness writes, before SIGCONT): from then on the worker's
///   version is stale and other processes may have deleted its SSTs, so it
///   skips its model checks (reads), and a read in flight across the pause that
///   fails or differs is not held against the store.
///
/// Invariant: the harness sets `resumed` before it sends SIGCONT, so any code
/// the worker runs after the resume sees it.
final class ZombieControl {
    enum Phase: UInt64 {
        /// Started, the store not yet open: a writer paused here that resumed after
        /// the successor's open would legitimately take the store back, so the
        /// harness never pauses it before `running`.
        case starting = 0
        /// The store is open; the worker is between commits.
        case running = 1
        /// The intent of an epoch is fsynced and its `checkpoint` has not returned.
        case committing = 2
    }

    private let words: SharedCounter
    private static let phaseSlot = 0, pauseSlot = 1, resumedSlot = 2

    /// The harness creates the mapping (zeroed) before it starts the worker; the
    /// worker attaches to it (`create: false`).
    init(path: String, create: Bool) throws {
        words = try SharedCounter(path: path, slots: 3, create: create)
    }

    var phase: Phase {
        get { Phase(rawValue: words[Self.phaseSlot]) ?? .starting }
        set { words[Self.phaseSlot] = newValue.rawValue }
    }

    var pauseRequested: Bool {
        get { words[Self.pauseSlot] != 0 }
        set { words[Self.pauseSlot] = newValue ? 1 : 0 }
    }

    var resumed: Bool {
        get { words[Self.resumedSlot] != 0 }
        set { words[Self.resumedSlot] = newValue ? 1 : 0 }
    }
}
