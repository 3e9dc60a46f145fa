/// The fields of one CSV record, unquoted, in one reusable byte arena: parsing a
/// file of many records allocates only while the arena grows.
public struct CsvFields: Sendable {
    /// The fields' bytes, one after another.
    public private(set) var bytes: [UInt8] = []
    /// The end of each field in `bytes`.
    public private(set) var ends: [Int] = []

    public init() {}

    public var count: Int { ends.count }

    /// The bytes of field `i`.
    public func field(_ i: Int) -> ArraySlice<UInt8> {
        bytes[(i == 0 ? 0 : ends[i - 1])..<ends[i]]
    }

    /// Calls `body` with the bytes of field `i`.
    public func withField<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let s = i == 0 ? 0 : ends[i - 1], e = ends[i]
        return try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[s..<e])) }
    }

    /// Field `i` as text (for headers and error messages).
    public func string(_ i: Int) -> String { String(decoding: field(i), as: UTF8.self) }

    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
    }

    mutating func append(_ chunk: UnsafeBufferPointer<UInt8>) { bytes.append(contentsOf: chunk) }
    mutating func append(_ byte: UInt8) { bytes.append(byte) }
    mutating func endField() { ends.append(bytes.count) }
}
