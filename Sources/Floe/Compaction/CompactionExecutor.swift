/// Runs a `CompactionTask`: merges its input runs in full-key order, garbage
/// collects versions under the MVCC rule, writes and uploads the output SSTs.
///
/// MVCC rule (DESIGN.md): a version may be dropped only when a newer version of
/// the same key has epoch <= the watermark. So per user key every version above
/// the watermark is kept, plus the newest one at or below it; that one is also
/// dropped when it is a tombstone and the task is bottommost.
enum CompactionExecutor {
    static func run(_ task: CompactionTask, reader: SstReader, store: any ObjectStore,
                    options: SstWriterOptions, failpoints: FailpointRegistry = Failpoints.processOrEmpty,
                    nextID: @Sendable () -> UInt64) async throws -> CompactionResult {
        if task.kind == .trivialMove {
            let files = task.inputs.flatMap(\.ssts)
            return CompactionResult(task: task, outputs: files, bytesRead: 0, bytesWritten: 0,
                                    entriesIn: files.reduce(0) { $0 + $1.entryCount }, entriesOut: files.reduce(0) { $0 + $1.entryCount })
        }
        var heap = MergeHeap()
        for input in task.inputs where !input.ssts.isEmpty {
            // Sequential 1 MiB reads that bypass the block cache: compaction inputs are read
            // once, and caching them would evict the blocks readers actually use.
            let it = SstRunIterator(reader: reader, run: input.ssts, readAheadBytes: 1 << 20)
            try await it.seekToFirst()
            heap.add(.run(it))
        }
        var wopts = options
        wopts.compression = task.compression
        wopts.targetFileSize = task.targetFileSize
        var writer = SstWriter(id: nextID(), options: wopts)
        var outputs: [SstInfo] = []
        var written: UInt64 = 0
        var entriesIn: UInt64 = 0
        var currentPrefix: [UInt8] = []
        var haveCurrent = false
        var seenAtOrBelow = false
        var lastEpoch: Epoch = 0

        while let src = heap.top {
            entriesIn += 1
            let key = src.key
            let (same, epoch): (Bool, Epoch) = key.withUnsafeBytes { k in
                (haveCurrent && currentPrefix.withUnsafeBytes { FullKey.compareBytes($0, FullKey.prefix(k)) == 0 }, FullKey.epoch(k))
            }
            if !same {
                currentPrefix.removeAll(keepingCapacity: true)
                currentPrefix.append(contentsOf: key[0..<(key.count - 8)])
                haveCurrent = true
                seenAtOrBelow = false
            }
            var keep = false
            if same && epoch == lastEpoch {
                keep = false // the same version in two inputs: keep the first (newest input)
            } else if epoch > task.watermark {
                keep = true
            } else if !seenAtOrBelow {
                seenAtOrBelow = true
                keep = !(task.bottommost && src.kind == Block.kindDelete)
            }
            lastEpoch = epoch
            if keep {
                let kind = src.kind
                let value = src.value
                let cut: Bool = key.withUnsafeBytes { k in
                    writer.estimatedSize >= task.targetFileSize &&
                        writer.isNewUserKey(table: FullKey.table(k), userKey: FullKey.userKey(k))
                }
                if cut {
                    let f = writer.finish()
                    try failpoints.hit(.compactionBeforeUpload)
                    try await store.put(f.info.path, f.bytes)
                    outputs.append(f.info)
                    written += f.info.fileSize
                    writer = SstWriter(id: nextID(), options: wopts)
                }
                key.withUnsafeBytes { k in
                    value.withUnsafeBytes { v in writer.add(encodedKey: k, kind: kind, value: v) }
                }
            }
            if !heap.advanceTopSync() { try await heap.finishAdvanceTop() }
        }
        if !writer.isEmpty {
            let f = writer.finish()
            try failpoints.hit(.compactionBeforeUpload)
            try await store.put(f.info.path, f.bytes)
            outputs.append(f.info)
            written += f.info.fileSize
        }
        return CompactionResult(task: task, outputs: outputs, bytesRead: task.inputBytes, bytesWritten: written,
                                entriesIn: entriesIn, entriesOut: outputs.reduce(0) { $0 + $1.entryCount })
    }
}
