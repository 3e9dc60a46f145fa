/// One record of the crash-test oracle (`OracleLog`): what the worker meant to
/// commit, what the store acknowledged, and the state the harness verified.
/// The byte layout is in docs/crashtest.md ("Oracle file").
///
/// The protocol a worker follows, which `OracleHistory` checks: one `base` first;
/// then per epoch an `intent`, written (durably) before the commit starts, closed
/// by an `ack` once the commit returned or an `abort` once the store was reopened
/// without it. An intent left without either is the epoch in flight at the crash.
public enum OracleRecord: Equatable, Sendable {
    /// The verified state at `epoch` (written by the parent after each iteration):
    /// every live key, and the metadata the store holds at that epoch.
    case base(epoch: UInt64, metadata: [String: [UInt8]], rows: StoreState)
    /// The net writes of `epoch` (nil = delete) and the metadata its commit carries,
    /// appended and fsynced before the commit starts.
    case intent(epoch: UInt64, metadata: [String: [UInt8]], writes: [StateKey: [UInt8]?])
    /// The commit of `epoch` returned: the store promised it is durable.
    case ack(epoch: UInt64)
    /// `epoch`'s commit failed and the worker reopened the store, which does not hold
    /// it: it can never become visible (the reopen fenced the writer that tried).
    case abort(epoch: UInt64)

    static let typeBase: UInt8 = 1
    static let typeIntent: UInt8 = 2
    static let typeAck: UInt8 = 3
    static let typeAbort: UInt8 = 4
    static let writePut: UInt8 = 1
    static let writeDelete: UInt8 = 2

    /// `base`, `intent`, `ack` or `abort`.
    public var kindName: String {
        switch self {
        case .base: "base"
        case .intent: "intent"
        case .ack: "ack"
        case .abort: "abort"
        }
    }

    /// The epoch the record is about.
    public var epoch: UInt64 {
        switch self {
        case let .base(e, _, _), let .intent(e, _, _), let .ack(e), let .abort(e): e
        }
    }

    /// The payload bytes (type byte first); `OracleLog` frames them with length and checksum.
    func encode() -> [UInt8] {
        var w = OracleBytesWriter()
        switch self {
        case let .base(epoch, metadata, rows):
            w.u8(Self.typeBase)
            w.u64(epoch)
            w.metadata(metadata)
            w.u32(UInt32(rows.count))
            for (k, v) in rows.sorted(by: { $0.key < $1.key }) {
                w.key(k)
                w.value(v)
            }
        case let .intent(epoch, metadata, writes):
            w.u8(Self.typeIntent)
            w.u64(epoch)
            w.metadata(metadata)
            w.u32(UInt32(writes.count))
            for (k, v) in writes.sorted(by: { $0.key < $1.key }) {
                w.u8(v == nil ? Self.writeDelete : Self.writePut)
                w.key(k)
                if let v { w.value(v) }
            }
        case let .ack(epoch):
            w.u8(Self.typeAck)
            w.u64(epoch)
        case let .abort(epoch):
            w.u8(Self.typeAbort)
            w.u64(epoch)
        }
        return w.bytes
    }

    /// Decodes a payload whose checksum passed. Throws `CrashtestError` naming
    /// `offset` (of the record in the file) when the bytes do not form a record.
    static func decode(_ payload: ArraySlice<UInt8>, offset: Int) throws -> OracleRecord {
        var r = OracleBytesReader(bytes: payload, offset: offset)
        let type = try r.u8()
        let record: OracleRecord
        switch type {
        case typeBase:
            let epoch = try r.u64()
            let metadata = try r.metadata()
            var rows: StoreState = [:]
            for _ in 0..<(try r.u32()) {
                let k = try r.key()
                guard rows.updateValue(try r.value(), forKey: k) == nil else { throw r.failure("key listed twice") }
            }
            record = .base(epoch: epoch, metadata: metadata, rows: rows)
        case typeIntent:
            let epoch = try r.u64()
            let metadata = try r.metadata()
            var writes: [StateKey: [UInt8]?] = [:]
            for _ in 0..<(try r.u32()) {
                let kind = try r.u8()
                guard kind == writePut || kind == writeDelete else { throw r.failure("unknown write kind \(kind)") }
                let k = try r.key()
                let v: [UInt8]? = kind == writePut ? try r.value() : nil
                guard writes.updateValue(v, forKey: k) == nil else { throw r.failure("key written twice") }
            }
            record = .intent(epoch: epoch, metadata: metadata, writes: writes)
        case typeAck: record = .ack(epoch: try r.u64())
        case typeAbort: record = .abort(epoch: try r.u64())
        default: throw r.failure("unknown record type \(type)")
        }
        guard r.isAtEnd else { throw r.failure("\(r.remaining) bytes after the record") }
        return record
    }
}

/// Little-endian encoder of oracle payloads.
private struct OracleBytesWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { for i in 0..<2 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * i))) } }
    mutating func u32(_ v: UInt32) { for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * i))) } }
    mutating func u64(_ v: UInt64) { for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * i))) } }

    mutating func key(_ k: StateKey) {
        u32(k.table)
        u16(UInt16(k.key.count))
        bytes += k.key
    }

    mutating func value(_ v: [UInt8]) {
        u32(UInt32(v.count))
        bytes += v
    }

    mutating func metadata(_ m: [String: [UInt8]]) {
        u16(UInt16(m.count))
        for (k, v) in m.sorted(by: { $0.key < $1.key }) {
            let name = Array(k.utf8)
            u16(UInt16(name.count))
            bytes += name
            value(v)
        }
    }
}

/// Bounds-checked decoder of oracle payloads; every failure names the record's file offset.
private struct OracleBytesReader {
    let bytes: ArraySlice<UInt8>
    let offset: Int
    var position: Int

    init(bytes: ArraySlice<UInt8>, offset: Int) {
        self.bytes = bytes
        self.offset = offset
        self.position = bytes.startIndex
    }

    var remaining: Int { bytes.endIndex - position }
    var isAtEnd: Bool { position == bytes.endIndex }

    func failure(_ why: String) -> CrashtestError {
        CrashtestError("oracle record at offset \(offset) is malformed: \(why) (payload byte \(position - bytes.startIndex))")
    }

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n <= remaining else { throw failure("truncated: need \(n) bytes, \(remaining) left") }
        defer { position += n }
        return bytes[position..<(position + n)]
    }

    private mutating func int(_ size: Int) throws -> UInt64 {
        var v: UInt64 = 0
        for (i, b) in try take(size).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }

    mutating func u8() throws -> UInt8 { UInt8(try int(1)) }
    mutating func u16() throws -> Int { Int(try int(2)) }
    mutating func u32() throws -> Int { Int(try int(4)) }
    mutating func u64() throws -> UInt64 { try int(8) }

    mutating func key() throws -> StateKey {
        let table = UInt32(try u32())
        return StateKey(table: table, key: Array(try take(try u16())))
    }

    mutating func value() throws -> [UInt8] { Array(try take(try u32())) }

    mutating func metadata() throws -> [String: [UInt8]] {
        var m: [String: [UInt8]] = [:]
        for _ in 0..<(try u16()) {
            let name = String(decoding: try take(try u16()), as: UTF8.self)
            guard m.updateValue(try value(), forKey: name) == nil else { throw failure("metadata key \(name) twice") }
        }
        return m
    }
}
