/// Generates the `EoStreams` streams: event i of a stream is a pure function of
/// (seed, i), so any event can be produced on its own, in any order, by any
/// process, and a replay from any offset yields the same rows.
///
/// Rules (`h` = `hash(seed:index:)` of event i, 0-based; times in microseconds):
/// - orders: `order_id = i + 1`; `category = categories[h >> 61]`;
///   `amount = 100 + (h & 0xFFFF_FFFF) % 99_900` cents (1.00 ... 999.99);
///   `event_time = baseTime + i * interEventMicros`.
/// - payments: `payment_id = i + 1`; `order_id = max(1, i + 1 - h % 50)`;
///   `status` by `(h >> 32) % 100`: below 70 confirmed, below 90 pending, else
///   failed; `paid_at = baseTime + i * interEventMicros + 30 s`.
/// - disorder (off by default): with `disorderMicros` D > 0, both times are moved
///   earlier by `mix(h + disorderSalt) % (D + 1)` microseconds, so the stream is
///   out of event-time order by at most D (for event-time lateness tests); D = 0
///   leaves every event as above.
///
/// Appending to a chunk allocates nothing per row: category and status names
/// come from one static byte array.
public struct EoGenerator: Sendable {
    public let stream: EoStreams.Stream
    public let seed: UInt64
    public let interEventMicros: Int64
    /// The most an event's time is moved earlier (0: in order).
    public let disorderMicros: Int64

    /// Added to an event's hash before the disorder is drawn from it.
    public static let disorderSalt: UInt64 = 0xD1B5_4A32_D192_ED03

    /// `disorderMicros` is clamped to `0 ... Int64.max - 1`.
    public init(stream: EoStreams.Stream, seed: UInt64, interEventMicros: Int64 = EoStreams.defaultInterEventMicros,
                disorderMicros: Int64 = 0) {
        self.stream = stream
        self.seed = seed
        self.interEventMicros = interEventMicros
        self.disorderMicros = min(max(0, disorderMicros), Int64.max - 1)
    }

    /// How much earlier than its place in the stream event `i` (hash `h`) is timed.
    @inline(__always)
    func lag(_ h: UInt64) -> Int64 {
        disorderMicros == 0 ? 0 : Int64(Self.mix(h &+ Self.disorderSalt) % UInt64(disorderMicros + 1))
    }

    public var schema: Schema { stream.schema }

    /// The hash of event `index` under `seed`: the SplitMix64 output for state
    /// `mix(seed) + (index + 1) * 0x9E3779B97F4A7C15`, where `mix` is the
    /// SplitMix64 finalizer (so nearby seeds give unrelated streams).
    @inline(__always)
    public static func hash(seed: UInt64, index: UInt64) -> UInt64 {
        mix(mix(seed) &+ (index &+ 1) &* 0x9E37_79B9_7F4A_7C15)
    }

    /// The SplitMix64 finalizer (Steele, Lea, Flood: "Fast splittable
    /// pseudorandom number generators", OOPSLA 2014).
    @inline(__always)
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// An order event.
    public struct Order: Sendable, Hashable {
        public var orderId: Int64
        /// An index into `EoStreams.categories`.
        public var category: Int
        public var amountCents: Int64
        public var eventTime: Int64
    }

    /// A payment event.
    public struct Payment: Sendable, Hashable {
        public var paymentId: Int64
        public var orderId: Int64
        /// An index into `EoStreams.statuses`.
        public var status: Int
        public var paidAt: Int64
    }

    @inline(__always)
    public func order(_ i: UInt64) -> Order {
        let h = Self.hash(seed: seed, index: i)
        return Order(orderId: Int64(i) + 1, category: Int(h >> 61),
                     amountCents: 100 + Int64((h & 0xFFFF_FFFF) % 99_900),
                     eventTime: EoStreams.baseTimeMicros + Int64(i) * interEventMicros - lag(h))
    }

    @inline(__always)
    public func payment(_ i: UInt64) -> Payment {
        let h = Self.hash(seed: seed, index: i)
        let r = (h >> 32) % 100
        return Payment(paymentId: Int64(i) + 1, orderId: max(1, Int64(i) + 1 - Int64(h % EoStreams.paymentLookback)),
                       status: r < 70 ? 0 : r < 90 ? 1 : 2,
                       paidAt: EoStreams.baseTimeMicros + Int64(i) * interEventMicros + EoStreams.paymentDelayMicros - lag(h))
    }

    /// Event `i` as text fields (`ValueText` formatting), in schema order.
    public func fields(_ i: UInt64) -> [String] {
        switch stream {
        case .orders:
            let o = order(i)
            return [String(o.orderId), EoStreams.categories[o.category],
                    ValueText.formatDecimal(o.amountCents, scale: 2), ValueText.formatTimestamp(o.eventTime)]
        case .payments:
            let p = payment(i)
            return [String(p.paymentId), String(p.orderId), EoStreams.statuses[p.status], ValueText.formatTimestamp(p.paidAt)]
        }
    }

    /// Category names then status names, one after another, and where each ends.
    private static let names: [UInt8] = Array((EoStreams.categories + EoStreams.statuses).joined().utf8)
    private static let nameEnds: [Int] = (EoStreams.categories + EoStreams.statuses).reduce(into: []) { ends, n in
        ends.append((ends.last ?? 0) + n.utf8.count)
    }

    /// Appends events `first`, `first + stride`, ... (`count` of them) to `chunk`
    /// (whose types are the stream's schema) as inserts. Fills the chunk a column
    /// at a time; allocates nothing per row.
    public func append(to chunk: inout Chunk, first: UInt64, stride: UInt64, count: Int) {
        guard count > 0 else { return }
        chunk.appendOps(.insert, count: count)
        let nameBase = stream == .orders ? 0 : EoStreams.categories.count
        let stringColumn = stream == .orders ? 1 : 2
        withUnsafeTemporaryAllocation(of: Int64.self, capacity: 3 * count) { scratch in
            let a = scratch.baseAddress!, b = a + count, c = b + count
            chunk.withStringColumn(stringColumn) { arena, rowEnds in
                arena.reserveCapacity(arena.count + 11 * count)
                rowEnds.reserveCapacity(rowEnds.count + count)
                Self.names.withUnsafeBytes { names in
                    Self.nameEnds.withUnsafeBufferPointer { ends in
                        var i = first
                        for k in 0..<count {
                            let name: Int
                            switch stream {
                            case .orders:
                                let o = order(i)
                                a[k] = o.orderId
                                b[k] = o.amountCents
                                c[k] = o.eventTime
                                name = nameBase + o.category
                            case .payments:
                                let p = payment(i)
                                a[k] = p.paymentId
                                b[k] = p.orderId
                                c[k] = p.paidAt
                                name = nameBase + p.status
                            }
                            arena.append(contentsOf: UnsafeRawBufferPointer(rebasing: names[(name == 0 ? 0 : ends[name - 1])..<ends[name]]))
                            rowEnds.append(arena.count)
                            i &+= stride
                        }
                    }
                }
            }
            // orders: id, amount, time in columns 0, 2, 3; payments: id, order id, time in 0, 1, 3.
            chunk.appendInts(0, UnsafeBufferPointer(start: a, count: count))
            chunk.appendInts(stream == .orders ? 2 : 1, UnsafeBufferPointer(start: b, count: count))
            chunk.appendInts(3, UnsafeBufferPointer(start: c, count: count))
        }
    }

    /// The CSV text (header, then one line per event) of events `events`.
    public func csv(events: Range<UInt64>) -> [UInt8] {
        var out: [UInt8] = []
        appendCsvHeader(to: &out)
        for i in events { appendCsvLine(i, to: &out) }
        return out
    }

    /// Writes events 0..<`events` as CSV (with the header) to the file at `path`,
    /// in blocks. Throws `FloeError.io` naming the file.
    public func writeCsv(events: UInt64, to path: String) throws {
        let file = try LocalFileWriter(path: path)
        var out: [UInt8] = []
        appendCsvHeader(to: &out)
        var i: UInt64 = 0
        while i < events {
            let end = min(events, i + 65_536)
            while i < end {
                appendCsvLine(i, to: &out)
                i += 1
            }
            try file.write(out)
            out.removeAll(keepingCapacity: true)
        }
        try file.write(out)
        try file.close()
    }

    private func appendCsvHeader(to out: inout [UInt8]) {
        out.append(contentsOf: schema.names.joined(separator: ",").utf8)
        out.append(0x0A)
    }

    /// Appends event `i` as one CSV line: what `CsvWriter` makes of `fields(i)`
    /// (no field needs quotes), formatted straight into bytes.
    func appendCsvLine(_ i: UInt64, to out: inout [UInt8]) {
        switch stream {
        case .orders:
            let o = order(i)
            ValueText.appendDecimal(o.orderId, to: &out)
            out.append(0x2C)
            out.append(contentsOf: EoStreams.categories[o.category].utf8)
            out.append(0x2C)
            ValueText.appendDecimal(o.amountCents / 100, to: &out)
            out.append(0x2E)
            ValueText.appendDigits(o.amountCents % 100, 2, to: &out)
            out.append(0x2C)
            ValueText.appendTimestamp(o.eventTime, to: &out)
        case .payments:
            let p = payment(i)
            ValueText.appendDecimal(p.paymentId, to: &out)
            out.append(0x2C)
            ValueText.appendDecimal(p.orderId, to: &out)
            out.append(0x2C)
            out.append(contentsOf: EoStreams.statuses[p.status].utf8)
            out.append(0x2C)
            ValueText.appendTimestamp(p.paidAt, to: &out)
        }
        out.append(0x0A)
    }
}
