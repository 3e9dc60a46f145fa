/// Loads, in the background, the whole filters of files that cold gets answered
/// from one partition (`SstFilter.probe`), and hands them to its owner,
/// `SstMetadataCache` (into the filter cache, or into the cached meta of a file
/// whose meta was built without it: `filterPending`).
///
/// Why: a partition read keeps the first get after a restart cheap, but each
/// later get of another key would read another partition of every cold file.
/// Once the get that found them cold has returned, their whole filters are read
/// one by one and put in the filter cache, so the gets that follow probe memory.
/// Starting only after that get keeps its reads from competing with these.
///
/// Best effort: a load that fails is dropped (the next get of that file reads
/// and reports the error itself).
final class FilterWarmer: Sendable {
    private struct State {
        var queue: [SstInfo] = []
        /// Files queued or being loaded, so concurrent gets do not queue one twice.
        var ids: Set<UInt64> = []
        var task: Task<Void, Never>?
        var stopped = false
    }

    private let state = Lock(State())

    /// Queues the whole filter of `info` for loading at the next `start`.
    func request(_ info: SstInfo) {
        state.withLock { s in
            guard !s.stopped, s.ids.insert(info.id).inserted else { return }
            s.queue.append(info)
        }
    }

    /// Starts loading what is queued, unless a load task is already running (it
    /// will take the new requests too).
    func start(_ cache: SstMetadataCache) {
        state.withLock { s in
            guard !s.stopped, s.task == nil, !s.queue.isEmpty else { return }
            s.task = Task.detached(priority: .utility) { [self] in await drain(cache) }
        }
    }

    private func drain(_ cache: SstMetadataCache) async {
        while let info = next() {
            if cache.needsWholeFilter(info.id),
               let f = try? await SstFilter.load(store: cache.store, id: info.id, object: info.path, fileSize: Int(info.fileSize)) {
                cache.adoptFilter(info.id, f)
            }
            _ = state.withLock { $0.ids.remove(info.id) }
        }
    }

    /// The next file to load; nil (and the task marked done) when the queue is empty or stopped.
    private func next() -> SstInfo? {
        state.withLock { s in
            if s.stopped || s.queue.isEmpty {
                s.task = nil
                return nil
            }
            return s.queue.removeFirst()
        }
    }

    /// Drops what is queued and waits for the load in progress, if any. Later
    /// requests are ignored.
    func stop() async {
        let task = state.withLock { s -> Task<Void, Never>? in
            s.stopped = true
            s.queue.removeAll()
            s.ids.removeAll()
            return s.task
        }
        await task?.value
    }

    /// Files queued or being loaded (for tests).
    var pending: Int { state.withLock { $0.ids.count } }
}
