import Floe
import FloeTesting

/// A seeded oracle history with the shapes every wrong recovery needs, and the
/// state after each epoch computed here, independently of `OracleHistory`.
///
/// Records: a base at epoch 10 over two tables of six keys, random epochs
/// (acknowledged or aborted), then in order:
/// - `deleteEpoch` (acknowledged) deletes `deletedKey`, which holds `deletedValue`;
/// - `abortedEpoch` puts `abortedValue` under `abortedKey`;
/// - `lastAckedEpoch` (acknowledged) puts a new value under `lastWriteKey`
///   (never `deletedKey`), over `lastWritePrevious`;
/// - `openEpoch` (no outcome: in flight at the crash) puts `openValue` under `openKey`.
/// Every put writes a value no other put writes.
struct SyntheticHistory {
    let seed: UInt64
    var records: [OracleRecord] = []
    /// The state after each epoch of the chain (aborted epochs excluded).
    var states: [UInt64: StoreState] = [:]
    var metadata: [UInt64: [String: [UInt8]]] = [:]
    let universe: [StateKey] = (0..<12).map { StateKey(table: 1 + UInt32($0 % 2), key: Array("key\($0 / 2)".utf8)) }

    var deleteEpoch: UInt64 = 0, deletedKey = StateKey(table: 0, key: []), deletedValue: [UInt8] = []
    var abortedEpoch: UInt64 = 0, abortedKey = StateKey(table: 0, key: []), abortedValue: [UInt8] = []
    var lastAckedEpoch: UInt64 = 0, lastWriteKey = StateKey(table: 0, key: []), lastWritePrevious: [UInt8]?
    var openEpoch: UInt64 = 0, openKey = StateKey(table: 0, key: []), openValue: [UInt8] = []

    init(seed: UInt64) {
        self.seed = seed
        var rng = SplitMix64(seed: seed)
        var serial = 0
        func freshValue(_ epoch: UInt64) -> [UInt8] {
            serial += 1
            return Array("e\(epoch)#\(serial)".utf8) + (0..<Int(rng.next() % 8)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        }
        func pick() -> StateKey { universe[Int(rng.next() % UInt64(universe.count))] }

        var state: StoreState = [:]
        for k in universe where rng.next() % 2 == 0 { state[k] = freshValue(10) }
        var epoch: UInt64 = 10
        records.append(.base(epoch: epoch, metadata: ["offset": [10]], rows: state))
        states[epoch] = state
        metadata[epoch] = ["offset": [10]]

        /// Appends the intent of the next epoch (and its outcome, if any); returns the epoch.
        func step(_ writes: [StateKey: [UInt8]?], _ outcome: OracleHistory.Outcome) -> UInt64 {
            epoch += 1 + rng.next() % 2
            let meta = ["offset": [UInt8(truncatingIfNeeded: epoch)]]
            records.append(.intent(epoch: epoch, metadata: meta, writes: writes))
            switch outcome {
            case .acked: records.append(.ack(epoch: epoch))
            case .aborted: records.append(.abort(epoch: epoch))
            case .open: break
            }
            if outcome != .aborted {
                for (k, v) in writes { state[k] = v }
                states[epoch] = state
                metadata[epoch] = meta
            }
            return epoch
        }

        for _ in 0..<(3 + Int(rng.next() % 6)) {
            var writes: [StateKey: [UInt8]?] = [:]
            for _ in 0..<(1 + Int(rng.next() % 4)) { writes[pick()] = rng.next() % 3 == 0 ? nil : freshValue(epoch + 1) }
            _ = step(writes, rng.next() % 4 == 0 ? .aborted : .acked)
        }
        // A key to delete must hold a value first.
        deletedKey = pick()
        if state[deletedKey] == nil { _ = step([deletedKey: freshValue(epoch + 1)], .acked) }
        deletedValue = state[deletedKey]!
        deleteEpoch = step([deletedKey: nil], .acked)
        abortedKey = pick()
        abortedValue = freshValue(epoch + 1)
        abortedEpoch = step([abortedKey: abortedValue], .aborted)
        repeat { lastWriteKey = pick() } while lastWriteKey == deletedKey
        lastWritePrevious = state[lastWriteKey]
        lastAckedEpoch = step([lastWriteKey: freshValue(epoch + 1)], .acked)
        openKey = pick()
        openValue = freshValue(epoch + 1)
        openEpoch = step([openKey: openValue], .open)
    }
}
