/// Entry points for the libFuzzer targets under Fuzz/: each feeds arbitrary bytes
/// to one decoder. Any outcome but a crash, a hang or unbounded memory is fine;
/// errors must be typed `FloeError`s.
@_spi(Fuzzing)
public enum FuzzingSupport {
    /// Decodes `bytes` as a block envelope (checksum, compression) and, when that
    /// passes or is skipped, as a block payload, then walks every entry and seeks.
    public static func block(_ bytes: [UInt8]) -> Bool {
        // Odd first byte: skip the envelope so the structural decoder is reached.
        let skipChecksum = bytes.first.map { $0 & 1 == 1 } ?? false
        let payload: [UInt8]
        if skipChecksum {
            payload = Array(bytes.dropFirst())
        } else {
            guard let p = try? BlockCodec.open(bytes, range: 0..<bytes.count, object: "fuzz", objectOffset: 0) else { return false }
            payload = p
        }
        for dataBlock in [true, false] {
            guard let b = try? Block(payload, dataBlock: dataBlock, checkOrder: true, object: "fuzz", offset: 0) else { continue }
            var c = BlockCursor(b)
            c.seekToFirst()
            var n = 0
            while c.valid && n <= b.entryCount { c.advance(); n += 1 }
            guard n == b.entryCount else { fatalError("cursor saw \(n) of \(b.entryCount) entries") }
            let probe: [UInt8] = Array(payload.prefix(8))
            _ = probe.withUnsafeBytes { b.pointLookup(table: 1, userKey: $0, epoch: 7) }
            var s = BlockCursor(b)
            s.seek(FullKey.encode(table: TableID(1), userKey: probe, epoch: 7))
            return true
        }
        return false
    }

    /// Decodes `bytes` as a whole SST object: footer, filter, index, properties,
    /// then every data block.
    public static func sst(_ input: [UInt8]) -> Bool {
        // Odd first byte: repair the footer and meta-block checksums so the fuzzer
        // explores the parsers behind them instead of stopping at XXH3.
        var bytes = input
        if let f = input.first, f & 1 == 1 { fixSstChecksums(&bytes) }
        return (try? StoreVerifier.verifySst(bytes: bytes, object: "fuzz.sst")) != nil
    }

    static func fixSstChecksums(_ b: inout [UInt8]) {
        let n = b.count
        guard n >= SstFooter.size else { return }
        let f = n - SstFooter.size
        store(Checksum.xxh3(b, f..<(f + 40)), into: &b, at: f + 40)
        let handles = [(loadLE64(b, f), loadLE32(b, f + 8)), (loadLE64(b, f + 12), loadLE32(b, f + 20)), (loadLE64(b, f + 24), loadLE32(b, f + 32))]
        for (off, size) in handles {
            guard off < UInt64(f), size >= 9, off + UInt64(size) <= UInt64(f) else { continue }
            let start = Int(off), end = start + Int(size)
            store(Checksum.xxh3(b, start..<(end - 8)), into: &b, at: end - 8)
        }
    }

    static func store(_ v: UInt64, into b: inout [UInt8], at i: Int) {
        withUnsafeBytes(of: v.littleEndian) { for (k, x) in $0.enumerated() { b[i + k] = x } }
    }

    /// Decodes `bytes` as a manifest delta and as a checkpoint, and applies a
    /// decoded delta to an empty version.
    public static func manifest(_ input: [UInt8]) -> Bool {
        // Odd first byte: repair the trailing checksum so the decoders behind it are reached.
        var bytes = input
        if let f = input.first, f & 1 == 1, bytes.count >= 14 {
            store(Checksum.xxh3(bytes, 0..<(bytes.count - 8)), into: &bytes, at: bytes.count - 8)
        }
        var ok = false
        if let d = try? ManifestCodec.decodeDelta(bytes, object: "fuzz.delta") {
            _ = try? Version.empty.applying(d, object: "fuzz.delta", digest: ManifestCodec.digest(bytes))
            ok = true
        }
        if let v = try? ManifestCodec.decodeVersion(bytes, object: "fuzz.checkpoint") {
            _ = ManifestCodec.encode(v)
            ok = true
        }
        return ok
    }
}
