/// Write and space amplification of one version, for `floe stats` and the LSM
/// shape drawing. A ratio is nil when its denominator is zero or unknown.
package struct LsmAmplification: Sendable, Equatable {
    /// (flush + compaction bytes written) / bytes ingested, over the store's lifetime.
    package var write: Double?
    /// SST bytes of the version / live bytes (user key + value): what a byte of
    /// user data costs on storage, compression and framing included.
    package var space: Double?
    /// Stored raw bytes (`SstInfo.rawBytes`, uncompressed) / live bytes measured the
    /// same way (`LiveData.encodedBytes`): how many times the live data is stored,
    /// obsolete versions and tombstones counted, compression and framing not.
    package var rawSpace: Double?

    /// The ratios of `version`; the space ratios need `live` measured on that same version.
    package init(_ version: VersionSummary, live: LiveData?) {
        let c = version.counters
        write = c.ingestedBytes == 0 ? nil : c.writeAmplification
        let total = version.total
        if let live, live.bytes > 0 {
            space = Double(total.bytes) / Double(live.bytes)
            rawSpace = Double(total.rawBytes) / Double(live.encodedBytes)
        }
    }
}
