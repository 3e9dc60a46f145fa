/// Text forms of keys and values for tools (`floe sst dump`, `floe stats`,
/// verifier messages). Not used on any hot path.
package enum KeyText {
    /// An encoded full key as `t<table>:<user key>@<epoch>`, the user key printable or hex.
    /// A buffer too short to be a full key is described as malformed, never trapped on.
    package static func describe(_ fullKey: [UInt8]) -> String {
        FullKey.describe(fullKey)
    }

    /// Bytes as text when every byte is printable ASCII (and not a backslash), else `0x` and hex.
    package static func printable(_ bytes: [UInt8]) -> String {
        FullKey.printable(bytes)
    }

    /// At most `limit` bytes of a value in printable form, with `...(<n> bytes)` appended
    /// when the value is longer.
    package static func preview(_ bytes: [UInt8], limit: Int) -> String {
        guard bytes.count > limit else { return printable(bytes) }
        return printable(Array(bytes.prefix(max(0, limit)))) + "...(\(bytes.count) bytes)"
    }
}
