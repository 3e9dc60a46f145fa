/// The byte tables `NexmarkGenerator` builds text fields from, so that no field
/// is built as a `String`: the reference's word lists, and two fixed texts that
/// random strings are windows of.
///
/// Word lists (from the reference `PersonGenerator` and `BidGenerator`): 11
/// first names, 9 last names, 10 US cities, 6 US states, 4 hot channels.
enum NexmarkVocabulary {
    /// Words stored one after another, with where each ends.
    struct Words: Sendable {
        let bytes: [UInt8]
        let ends: [Int]
        var count: Int { ends.count }

        init(_ words: [String]) {
            bytes = Array(words.joined().utf8)
            ends = words.reduce(into: []) { ends, w in ends.append((ends.last ?? 0) + w.utf8.count) }
        }

        /// Appends word `k` to `out`.
        @inline(__always)
        func append(_ k: Int, to out: inout [UInt8]) {
            out.append(contentsOf: bytes[(k == 0 ? 0 : ends[k - 1])..<ends[k]])
        }

        /// The length of word `k` in bytes.
        func length(_ k: Int) -> Int { ends[k] - (k == 0 ? 0 : ends[k - 1]) }
    }

    static let firstNames = Words(["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"])
    static let lastNames = Words(["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"])
    static let usCities = Words(["Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle",
                                 "Kent", "Cheyenne"])
    static let usStates = Words(["AZ", "CA", "ID", "OR", "WA", "WY"])
    static let hotChannels = Words(["Google", "Facebook", "Baidu", "Apple"])

    /// The length of the fixed texts.
    static let textLength = 8192

    /// Lowercase letters with a space in place of about one in 13 (the
    /// reference's `nextString` alphabet), drawn once from a fixed SplitMix64
    /// stream: random strings are windows of it.
    static let spacedText: [UInt8] = fixedText(spaces: true)
    /// Lowercase letters only (the reference's `nextExactString` alphabet), for
    /// the `extra` padding.
    static let letters: [UInt8] = fixedText(spaces: false)

    private static func fixedText(spaces: Bool) -> [UInt8] {
        var draws = NexmarkDraws(seed: spaces ? 0x5EED_5CA7 : 0x5EED_1E77, event: 0)
        return (0..<textLength).map { _ in
            let x = draws.next()
            if spaces && x % 13 == 0 { return 0x20 }
            return 0x61 + UInt8((x >> 8) % 26)
        }
    }
}
