import Floe

/// The crash-test oracle file: the truth a harness (`floe crashtest`) verifies a
/// recovered store against, kept outside the store's directory.
///
/// Layout: the 8-byte magic `FLOEORC1`, then records, each framed as
/// `u32 payload length | u32 CRC-32C of the payload | payload` (little-endian;
/// payloads in `OracleRecord`). Records are only appended, each fsynced before
/// the step it describes goes on, so a kill can only leave the last record
/// torn; reading stops at the first record whose frame runs past the end of the
/// file or whose checksum fails, and reports those bytes as the torn tail.
public enum OracleLog {
    /// The first 8 bytes of every oracle file.
    public static let magic: [UInt8] = Array("FLOEORC1".utf8)
    /// No record is this large; a bigger length is a torn or garbled frame.
    static let maxPayload = 64 << 20

    /// What a read found.
    public struct Contents: Sendable, Equatable {
        public var records: [OracleRecord]
        /// Bytes after the last whole record (a torn append), ignored.
        public var tornBytes: Int

        public init(records: [OracleRecord], tornBytes: Int = 0) {
            self.records = records
            self.tornBytes = tornBytes
        }
    }

    /// The framed bytes of `record`: what one append adds to the file.
    public static func frame(_ record: OracleRecord) -> [UInt8] {
        let payload = record.encode()
        var out: [UInt8] = []
        out.reserveCapacity(payload.count + 8)
        for v in [UInt32(payload.count), Crc32c.checksum(payload)] {
            for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
        }
        return out + payload
    }

    /// Replaces the file at `path` with the magic and `records` (atomically, durably).
    public static func rewrite(_ path: String, _ records: [OracleRecord]) throws {
        try DurableFile.replace(path, with: records.reduce(magic) { $0 + frame($1) })
    }

    /// Reads and decodes the file at `path`. Throws `CrashtestError` when it cannot be
    /// read, lacks the magic, or holds a whole record (checksum passed) that does not decode.
    public static func read(_ path: String) throws -> Contents {
        let bytes: [UInt8]
        do { bytes = try contents(of: path) } catch { throw CrashtestError("oracle \(path): \(error.reason)") }
        return try decode(bytes, path: path)
    }

    /// Decodes the bytes of an oracle file; `path` only names it in errors.
    /// Throws like `read(_:)`.
    public static func decode(_ bytes: [UInt8], path: String) throws -> Contents {
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
            throw CrashtestError("oracle \(path) does not start with \(String(decoding: magic, as: UTF8.self))")
        }
        var records: [OracleRecord] = []
        var at = magic.count
        while bytes.count - at >= 8 {
            let length = Int(le32(bytes, at)), sum = le32(bytes, at + 4)
            guard length <= maxPayload, length <= bytes.count - at - 8 else { break }
            let payload = bytes[(at + 8)..<(at + 8 + length)]
            guard Crc32c.checksum(payload) == sum else { break }
            records.append(try OracleRecord.decode(payload, offset: at))
            at += 8 + length
        }
        return Contents(records: records, tornBytes: bytes.count - at)
    }

    /// The whole file at `path`.
    private static func contents(of path: String) throws(FileSystemError) -> [UInt8] {
        let fs = PosixFileSystem()
        let fd = try fs.open(path, .read)
        defer { try? fs.close(fd) }
        let size = try fs.status(fd).size
        var failure: FileSystemError?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            do throws(FileSystemError) {
                initialized = try fs.preadFully(fd, into: UnsafeMutableRawBufferPointer(buffer), offset: 0)
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }

    private static func le32(_ b: [UInt8], _ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[at + $1]) << (8 * UInt32($1)) }
    }
}
