/// Scans in descending key order: `StateStore.scanReverse`.
///
/// Streaming: a `ReverseMergingIterator` reads every source of the scan backwards
/// from the range's upper bound, so a scan with `limit` reads only the blocks that
/// hold its last `limit` rows (and the versions and tombstones among them), not
/// the whole range. Rows are returned as an array of at most `limit` rows; without
/// a limit, the whole range is held.
extension StateStore {
    /// Rows of `table` with `from <= key < to` at `epoch` in descending key order (nil
    /// bounds are open), at most `limit` of them (the largest keys) when given.
    /// Visibility and errors as for `scan`; `invalidArgument` for a negative limit.
    nonisolated(nonsending) public func scanReverse(_ table: TableID, from: [UInt8]?, to: [UInt8]?, epoch: Epoch,
                                                    limit: Int? = nil) async throws -> [ScanResult.Element] {
        try ReverseScan.check(limit)
        return try await ReverseScan.rows(scan(table, from: from, to: to, epoch: epoch), limit: limit)
    }

    /// Rows of `table` whose key starts with `prefix` at `epoch` in descending key
    /// order, at most `limit` when given; files skipped as by `scan(_:prefix:epoch:)`.
    nonisolated(nonsending) public func scanReverse(_ table: TableID, prefix: [UInt8], epoch: Epoch,
                                                    limit: Int? = nil) async throws -> [ScanResult.Element] {
        try ReverseScan.check(limit)
        return try await ReverseScan.rows(scan(table, prefix: prefix, epoch: epoch), limit: limit)
    }
}

enum ReverseScan {
    static func check(_ limit: Int?) throws {
        if let limit, limit < 0 { throw FloeError.invalidArgument("scan limit \(limit) is negative") }
    }

    /// The rows of `scan` last first, at most `limit` of them, read backwards: rows
    /// inside cached blocks without an async call each, only block loads suspend.
    /// Throws as iterating `scan` does. Runs on the caller's executor.
    nonisolated(nonsending) static func rows(_ scan: ScanResult, limit: Int?) async throws -> [ScanResult.Element] {
        if limit == 0 { return [] }
        let it = ReverseMergingIterator(scan)
        try await it.start()
        var out: [ScanResult.Element] = []
        if let limit { out.reserveCapacity(limit) }
        while true {
            switch it.stepSync() {
            case .row:
                out.append(it.withCurrentRow { k, v in (Array(k), Array(v)) })
                if let limit, out.count == limit { return out }
            case .end:
                return out
            case .blocked:
                try await it.finishBlocked()
            }
        }
    }
}
