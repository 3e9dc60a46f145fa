/// One ordered input of a merge: a frozen memtable or a sorted run of SSTs, read
/// forward (`mem`, `run`) or backward (`memReverse`, `runReverse`: a reverse merge
/// holds only these). A closed enum over concrete classes, so per-entry dispatch is
/// a switch, not an existential.
enum MergeSource {
    case mem(MemtableIterator)
    case run(SstRunIterator)
    case memReverse(MemtableIterator)
    case runReverse(SstRunReverseIterator)

    /// Completes an advance that did not fit in the current block (SST runs only).
    func finishAdvance() async throws {
        switch self {
        case let .run(r): try await r.finishAdvance()
        case let .runReverse(r): try await r.finishRetreat()
        case .mem, .memReverse: break
        }
    }
}
