/// Every failure Floe reports. Each case carries enough context to act on:
/// corruption names the object and the byte offset, fencing names the manifest
/// sequence that was lost, epoch errors name both epochs involved.
public enum FloeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Bytes failed a checksum or a structural check. `offset` is the byte offset
    /// inside `object` where the bad region starts.
    case corruption(object: String, offset: Int, reason: String)
    /// An object the manifest references, or the caller named, is absent.
    case objectNotFound(String)
    /// A write, seal or sync named an epoch that is already sealed.
    case epochSealed(epoch: Epoch, sealed: Epoch)
    /// A write or seal named an epoch at or below the committed epoch.
    case epochCommitted(epoch: Epoch, committed: Epoch)
    /// `sync` or `commit` named an epoch that has not been sealed.
    case epochNotSealed(Epoch)
    /// `commit` was called out of epoch order or with a `SyncResult` that does not
    /// cover every sealed epoch up to the committed one.
    case commitOutOfOrder(String)
    /// A read asked for an epoch older than the retained window and no snapshot pins it.
    case epochNotRetained(epoch: Epoch, oldestRetained: Epoch)
    /// Another writer opened the store; this one may no longer commit.
    case fenced(String)
    /// A compaction result no longer applies: its inputs were compacted or moved by someone else.
    case staleCompaction(String)
    /// Background compaction failed; commits stalled on it surface this.
    case compactionFailed(String)
    /// The path or object store does not hold a Floe store.
    case notAFloeStore(String)
    /// The store was written by a newer or unknown format version.
    case unsupportedFormat(object: String, version: UInt32)
    /// The memtable memory budget is spent. Sync and commit sealed epochs (or
    /// `await waitForWriteBudget()`) before writing more.
    case memoryBudgetExceeded(used: Int, budget: Int)
    /// The store was closed.
    case closed
    /// A caller passed a value outside what the API accepts.
    case invalidArgument(String)
    /// An object store operation failed below Floe (I/O error, injected fault).
    case io(path: String, reason: String)
    /// `createCheckpoint` named a checkpoint that exists.
    case checkpointExists(String)
    /// A named checkpoint the caller asked for does not exist.
    case checkpointNotFound(String)

    public var description: String {
        switch self {
        case let .corruption(object, offset, reason):
            return "corruption in \(object) at offset \(offset): \(reason)"
        case let .objectNotFound(path): return "object not found: \(path)"
        case let .epochSealed(e, sealed): return "epoch \(e) is sealed (sealed through \(sealed)); no more writes"
        case let .epochCommitted(e, committed): return "epoch \(e) is at or below the committed epoch \(committed)"
        case let .epochNotSealed(e): return "epoch \(e) is not sealed"
        case let .commitOutOfOrder(why): return "commit out of order: \(why)"
        case let .epochNotRetained(e, oldest): return "epoch \(e) is below the retained window (oldest readable epoch \(oldest))"
        case let .fenced(why): return "writer fenced: \(why)"
        case let .staleCompaction(why): return "stale compaction refused: \(why)"
        case let .compactionFailed(why): return "compaction failed: \(why)"
        case let .notAFloeStore(path): return "not a Floe store: \(path)"
        case let .unsupportedFormat(object, v): return "unsupported format version \(v) in \(object)"
        case let .memoryBudgetExceeded(used, budget): return "memtable budget exceeded: \(used) of \(budget) bytes in use; sync and commit sealed epochs first"
        case .closed: return "store is closed"
        case let .invalidArgument(why): return "invalid argument: \(why)"
        case let .io(path, reason): return "I/O error on \(path): \(reason)"
        case let .checkpointExists(name): return "checkpoint \(name) already exists"
        case let .checkpointNotFound(name): return "no checkpoint named \(name)"
        }
    }
}
