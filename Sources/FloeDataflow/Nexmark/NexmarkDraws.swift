/// The random draws of one Nexmark event: draw k (0-based) of event i under
/// seed s is `mix(hash(s, i) + (k + 1) * 0x9E3779B97F4A7C15)`, `hash` and `mix`
/// being `EoGenerator.hash(seed:index:)` and the SplitMix64 finalizer. So every
/// draw is a pure function of (seed, event number, draw number); no state is
/// carried from one event to the next.
struct NexmarkDraws {
    private var state: UInt64

    /// The draws of event `event` under `seed`.
    @inline(__always)
    init(seed: UInt64, event: UInt64) {
        state = EoGenerator.hash(seed: seed, index: event)
    }

    /// The next 64 random bits.
    @inline(__always)
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return EoGenerator.mix(state)
    }

    /// A draw in `0 ..< n` (0 when `n` is 0): the high word of `next() * n`
    /// (bias below n / 2^64).
    @inline(__always)
    mutating func below(_ n: UInt64) -> UInt64 {
        next().multipliedFullWidth(by: n).high
    }

    /// A draw in `0 ..< n` for a non-negative `n`.
    @inline(__always)
    mutating func below(_ n: Int64) -> Int64 {
        Int64(below(UInt64(n)))
    }

    /// A draw in `[0, 1)` with 53 random bits.
    @inline(__always)
    mutating func unit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }
}
