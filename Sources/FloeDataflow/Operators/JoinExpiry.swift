import Floe

/// How a `HashJoin` of an interval join removes rows that can no longer match
/// (Nexmark q9 and q4: a bid joins an auction only while
/// `auction.date_time <= bid.date_time <= auction.expires`).
///
/// A side may name a timestamp column `c` at which its rows expire: a row with
/// `c < W` is removed from the join's state once the aligned watermark reaches
/// `W`. The query that asks for it promises that such a row could only pair with
/// later rows of the other side (whose event times are at least `W`) into output
/// that what follows the join drops: q9's auction expires at `expires` (a later
/// bid has `date_time >= W > expires`, outside the auction's interval), its bid at
/// its own `date_time` (a later auction starts at `date_time >= W`, after the
/// bid). Removing a row emits nothing, so the views keep what they have.
///
/// The rows of one join key expire at different times, so they are no key range
/// of the join's table. Each expiring side keeps an index table instead
/// (`tables`): key = `int64(c)` (memcomparable), then the row's whole state key
/// (virtual node, join key, primary key); value = the join key's length in bytes
/// including the virtual node (`u16` LE), so the entry splits back into join key
/// and primary key. An insert writes the entry, a delete (which carries the
/// whole row) removes it. At a barrier every instance reads the one key range
/// `[int64(previous W), int64(W))` (the due entries of all instances: one scan,
/// not one per virtual node), keeps those of the virtual nodes it owns, removes
/// their rows (and updates the row counts) and the entries themselves in the
/// same epoch, so that a run restarted from a committed epoch never finds an
/// entry without its row, and hides the range read with one table watermark
/// (no prefix) from the next epoch on, so compaction drops it whole.
///
/// A row that arrives with `c` already below the watermark (a broken promise)
/// keeps its row: its index entry is hidden at once.
public struct JoinExpiry: Sendable, Hashable {
    /// Per side (0 left, 1 right): the timestamp column at which the side's rows
    /// expire, or nil when they never do.
    public var columns: [Int?]
    /// Per side: the expiry index table (nil exactly when `columns` is nil).
    public var tables: [TableID?]

    public init(columns: [Int?], tables: [TableID?]) {
        self.columns = columns
        self.tables = tables
    }

    /// Replaces `out` with the index key of a row whose state key is `stateKey`
    /// (virtual node, join key, primary key) and expiry value `at`.
    @inlinable static func indexKey(_ out: inout [UInt8], stateKey: [UInt8], at: Int64) {
        out.removeAll(keepingCapacity: true)
        KeyEncoding.appendInt64(&out, at)
        out.append(contentsOf: stateKey)
    }

    /// The virtual node of the row an index entry names, or nil when cut short.
    static func virtualNode(key: UnsafeRawBufferPointer) -> Int? {
        key.count >= 8 + KeyEncoding.virtualNodeBytes ? Int(key[8]) << 8 | Int(key[9]) : nil
    }

    /// Splits an index entry back into the row's join key (with its virtual node)
    /// and primary key; nil for an entry that does not parse.
    static func split(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> (joinKey: [UInt8], pk: [UInt8])? {
        guard value.count == 2 else { return nil }
        let n = Int(value[0]) | Int(value[1]) << 8
        guard n >= KeyEncoding.virtualNodeBytes, key.count >= 8 + n else { return nil }
        return (Array(key[8..<(8 + n)]), Array(key[(8 + n)...]))
    }
}
