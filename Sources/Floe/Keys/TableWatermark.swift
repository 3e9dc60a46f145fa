/// A table watermark: from `epoch` on, every key of `table` whose bytes after the
/// first `prefixLength` sort below `key` is gone (state cleaning for windows and
/// joins that expire in key order).
///
/// `prefixLength` skips a fixed leading part of each key before comparing, so one
/// watermark cleans every partition of a table whose keys start with a partition
/// id (a pipeline's virtual node): Hummock keeps a watermark per virtual node;
/// here every prefix shares one. A key shorter than `prefixLength` is never hidden.
///
/// Invariants (checked by `StateStore.setTableWatermark`): per table the watermarks
/// only rise (a later epoch's key is >= an earlier one's) and keep one prefix length.
/// Reads at an epoch use the newest watermark at or below it, so snapshots of older
/// retained epochs still see what a later watermark hides; compaction drops hidden
/// versions only under the watermark in effect at its safe epoch.
public struct TableWatermark: Sendable, Hashable, Codable {
    /// `TableID.raw` of the table.
    public var tableRaw: UInt32
    /// Leading bytes of every key the comparison skips.
    public var prefixLength: Int
    /// Keys whose bytes after the prefix sort strictly below this are hidden.
    public var key: [UInt8]
    /// The first epoch the watermark applies to.
    public var epoch: Epoch

    public init(table: TableID, prefixLength: Int, key: [UInt8], epoch: Epoch) {
        self.tableRaw = table.raw
        self.prefixLength = prefixLength
        self.key = key
        self.epoch = epoch
    }

    public var table: TableID { TableID(tableRaw) }

    /// Whether this watermark hides `userKey`.
    @inline(__always)
    func hides(_ userKey: UnsafeRawBufferPointer) -> Bool {
        guard userKey.count >= prefixLength else { return false }
        return key.withUnsafeBytes { w in
            FullKey.compareBytes(UnsafeRawBufferPointer(rebasing: userKey[prefixLength...]), w) < 0
        }
    }

    func hides(_ userKey: [UInt8]) -> Bool { userKey.withUnsafeBytes { hides($0) } }

    /// Whether it hides every key of `table` in the SST key range `[smallest, largest]`
    /// (encoded full keys): both ends in `table`, sharing their first `prefixLength`
    /// bytes, the largest below the watermark. Every key between two keys that share
    /// a prefix shares it too, and sorts below the largest.
    func hidesAll(smallest: [UInt8], largest: [UInt8]) -> Bool {
        smallest.withUnsafeBytes { s in
            largest.withUnsafeBytes { l in
                guard FullKey.table(s) == tableRaw, FullKey.table(l) == tableRaw else { return false }
                let us = FullKey.userKey(s), ul = FullKey.userKey(l)
                guard us.count >= prefixLength, ul.count >= prefixLength else { return false }
                let ps = UnsafeRawBufferPointer(rebasing: us[..<prefixLength])
                let pl = UnsafeRawBufferPointer(rebasing: ul[..<prefixLength])
                return FullKey.compareBytes(ps, pl) == 0 && hides(ul)
            }
        }
    }

    /// The newest of `watermarks` for `table` that applies at `epoch`, if any.
    static func effective(_ watermarks: [TableWatermark], table: UInt32, at epoch: Epoch) -> TableWatermark? {
        var best: TableWatermark?
        for w in watermarks where w.tableRaw == table && w.epoch <= epoch {
            if best == nil || w.epoch >= best!.epoch { best = w }
        }
        return best
    }

    /// Every table's watermark in effect at `epoch`, one per table.
    static func effectiveAll(_ watermarks: [TableWatermark], at epoch: Epoch) -> [TableWatermark] {
        var byTable: [UInt32: TableWatermark] = [:]
        for w in watermarks where w.epoch <= epoch {
            if let b = byTable[w.tableRaw], b.epoch > w.epoch { continue }
            byTable[w.tableRaw] = w
        }
        return byTable.values.sorted { $0.tableRaw < $1.tableRaw }
    }

    /// `history` with `added` merged in, sorted by (table, epoch), keeping per table
    /// only what a read at or above `safeEpoch` can use: the entries above it and the
    /// newest one at or below it. A later entry for the same (table, epoch) replaces.
    static func merged(_ history: [TableWatermark], _ added: [TableWatermark], safeEpoch: Epoch) -> [TableWatermark] {
        var all = history
        for a in added {
            all.removeAll { $0.tableRaw == a.tableRaw && $0.epoch == a.epoch }
            all.append(a)
        }
        all.sort { ($0.tableRaw, $0.epoch) < ($1.tableRaw, $1.epoch) }
        var kept: [TableWatermark] = []
        for (i, w) in all.enumerated() {
            let next = i + 1 < all.count ? all[i + 1] : nil
            // Superseded at the safe epoch: the next one of this table also applies there.
            if let n = next, n.tableRaw == w.tableRaw, n.epoch <= safeEpoch { continue }
            kept.append(w)
        }
        return kept
    }

    func encode(into w: inout ByteWriter) {
        w.u32(tableRaw)
        w.varint(prefixLength)
        w.lengthPrefixed(key)
        w.varint(epoch)
    }

    static func decode(_ r: inout ByteReader) throws -> TableWatermark {
        let table = try r.u32("watermark table")
        let prefix = try r.length("watermark prefix length", limit: StateStore.maxKeyBytes)
        let key = try r.lengthPrefixed("watermark key")
        return TableWatermark(table: TableID(table), prefixLength: prefix, key: key, epoch: try r.varint("watermark epoch"))
    }

    static func encodeList(_ list: [TableWatermark], into w: inout ByteWriter) {
        w.varint(list.count)
        for x in list { x.encode(into: &w) }
    }

    static func decodeList(_ r: inout ByteReader) throws -> [TableWatermark] {
        var out: [TableWatermark] = []
        for _ in 0..<(try r.length("watermark count", limit: r.remaining)) { out.append(try decode(&r)) }
        return out
    }
}
