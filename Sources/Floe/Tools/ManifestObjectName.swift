/// Parses the names of manifest objects: `manifest/<sequence>.delta` and
/// `manifest/<sequence>.checkpoint` (the sequence zero-padded to 20 digits).
enum ManifestObjectName {
    /// The sequence and whether the object is a delta (false: a checkpoint), or nil
    /// for any other name.
    static func parse(_ path: String) -> (sequence: UInt64, isDelta: Bool)? {
        guard path.hasPrefix("manifest/") else { return nil }
        let name = path.dropFirst("manifest/".count)
        for (suffix, isDelta) in [(".delta", true), (".checkpoint", false)] where name.hasSuffix(suffix) {
            let digits = name.dropLast(suffix.count)
            guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  let s = UInt64(digits) else { return nil }
            return (s, isDelta)
        }
        return nil
    }
}
