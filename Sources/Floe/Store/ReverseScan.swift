/// Scans in descending key order: `StateStore.scanReverse`.
///
/// Blocks, memtables and the merge only go forward, so a reverse scan reads its
/// range forward and returns the rows reversed. With `limit` it keeps only the
/// last `limit` rows while reading (memory for `limit` rows, reads the whole
/// range); without, it holds every row of the range. Meant for the short
/// ranges and prefixes of joins and top-N lookups, not for reversing a table.
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

    /// The rows of `scan` last first; with `limit`, only the last `limit` (a ring of
    /// that many rows while reading).
    static func rows(_ scan: ScanResult, limit: Int?) async throws -> [ScanResult.Element] {
        if limit == 0 { return [] }
        var ring: [ScanResult.Element] = []
        var next = 0
        for try await row in scan {
            if let limit, ring.count == limit {
                ring[next] = row
                next = (next + 1) % limit
            } else {
                ring.append(row)
            }
        }
        // Oldest kept row at `next` (0 while the ring was never full).
        var out: [ScanResult.Element] = []
        out.reserveCapacity(ring.count)
        for i in 0..<ring.count { out.append(ring[(next + ring.count - 1 - i) % ring.count]) }
        return out
    }
}
