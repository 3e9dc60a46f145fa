import Testing
@testable import FloeDataflow
import Floe

/// One seeded run of random epochs against a sink, checked against `Multiset`
/// models of its two views (`orders` and `totals`, see `SinkFixtures`).
///
/// Each epoch delivers random changes to `orders` (inserts, duplicates of held
/// rows, deletes of held rows, a row deleted and inserted in the same epoch,
/// empty epochs) and, on some epochs only, to `totals`. Between epochs it
/// randomly re-delivers old epochs with arbitrary changes (must be skipped),
/// delivers a next epoch that deletes a row not held (must throw and change
/// nothing), and "crashes" (drops the sink object and opens a new one over the
/// same storage). After every step the sink's rows and delivered epochs must
/// equal the models.
///
/// Replaying a failure: every message starts with `seed S`; narrow the failing
/// test's `arguments` to `S...S` and run it alone with `swift test --filter`.
struct SinkModelRun {
    let seed: UInt64
    var g: SeededGenerator
    var orders = Multiset<OrderRow>()
    var totals = Multiset<TotalRow>()
    var ordersEpoch: Epoch = 0
    var totalsEpoch: Epoch = 0
    /// Every epoch delivered to `orders`, ascending.
    var ordersEpochs: [Epoch] = []
    /// The model of `orders` as of each delivered epoch (and 0).
    var ordersHistory: [Epoch: [[String]]] = [0: []]
    var step = 0

    init(seed: UInt64) {
        self.seed = seed
        g = SeededGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ 7)
    }

    var prefix: String { "seed \(seed) step \(step) epoch \(ordersEpoch)" }

    /// Runs `epochs` epochs. `open` makes a new sink object over the same
    /// storage; `afterStep` runs extra checks after every epoch.
    mutating func run(epochs: Int, open: () throws -> any ViewSink,
                      afterStep: (inout SinkModelRun, any ViewSink) throws -> Void = { _, _ in }) throws {
        var sink = try open()
        for s in 0..<epochs {
            step = s
            try deliverNext(sink)
            if g.next() % 5 == 0 { try redeliverOld(sink) }
            if g.next() % 6 == 0 { try deliverBadDelete(sink) }
            if g.next() % 7 == 0 { sink = try open() }
            try check(sink)
            try afterStep(&self, sink)
        }
    }

    private mutating func random(_ n: Int) -> Int { Int(g.next() % UInt64(n)) }

    /// Random changes to `orders` that are valid applied in order to `model`.
    private mutating func randomOrderChanges(_ model: inout Multiset<OrderRow>) -> [(ChangeOp, OrderRow)] {
        var changes: [(ChangeOp, OrderRow)] = []
        let n = random(4) == 0 ? 0 : 1 + random(8)
        for _ in 0..<n {
            let kind = random(10)
            if kind < 4 {
                let row = OrderRow.random(&g)
                changes.append((.insert, row))
                model.add(row, 1)
            } else if kind < 6, let row = heldRow(model) {
                changes.append((.insert, row))
                model.add(row, 1)
            } else if kind < 9, let row = heldRow(model) {
                changes.append((.delete, row))
                model.add(row, -1)
            } else {
                // Deleted and inserted in one epoch, in either order: no change.
                let row = OrderRow.random(&g)
                if random(2) == 0 {
                    changes += [(.delete, row), (.insert, row)]
                } else {
                    changes += [(.insert, row), (.delete, row)]
                }
            }
        }
        return changes
    }

    private mutating func heldRow(_ model: Multiset<OrderRow>) -> OrderRow? {
        let held = model.counts.keys.sorted { $0.fields.lexicographicallyPrecedes($1.fields) }
        return held.isEmpty ? nil : held[random(held.count)]
    }

    private mutating func deliverNext(_ sink: any ViewSink) throws {
        let epoch = ordersEpoch + 1 + Epoch(random(3))
        var next = orders
        let changes = randomOrderChanges(&next)
        try sink.deliver(view: "orders", epoch: epoch, changes: SinkFixtures.ordersChunk(changes))
        orders = next
        ordersEpoch = epoch
        ordersEpochs.append(epoch)
        ordersHistory[epoch] = SinkFixtures.expected(orders)
        if random(3) != 0 {
            var changes: [(ChangeOp, TotalRow)] = []
            for _ in 0..<random(4) {
                let held = totals.counts.keys.sorted { $0.fields.lexicographicallyPrecedes($1.fields) }
                if !held.isEmpty, random(2) == 0 {
                    // An update: the old row out, a new one in.
                    let old = held[random(held.count)]
                    let new = TotalRow(k: old.k, n: old.n &+ Int64(random(100)))
                    changes += [(.delete, old), (.insert, new)]
                    totals.add(old, -1)
                    totals.add(new, 1)
                } else {
                    let row = TotalRow(k: SinkFixtures.names[random(SinkFixtures.names.count)], n: Int64(random(5)) - 2)
                    changes.append((.insert, row))
                    totals.add(row, 1)
                }
            }
            // Its own epoch sequence: it may lag behind or run ahead of `orders`.
            totalsEpoch += 1 + Epoch(random(2))
            try sink.deliver(view: "totals", epoch: totalsEpoch, changes: SinkFixtures.totalsChunk(changes))
        }
    }

    /// An epoch at or below the delivered one, with arbitrary changes
    /// (including deletes of rows not held): must be skipped without error.
    private mutating func redeliverOld(_ sink: any ViewSink) throws {
        let old = ordersEpochs.isEmpty || random(4) == 0 ? Epoch(random(Int(ordersEpoch) + 1)) : ordersEpochs[random(ordersEpochs.count)]
        var scratch = Multiset<OrderRow>()
        var changes = randomOrderChanges(&scratch)
        changes.append((.delete, OrderRow(id: 7, price: 0, time: 0, name: "never inserted")))
        try sink.deliver(view: "orders", epoch: old, changes: SinkFixtures.ordersChunk(changes))
    }

    /// The next epoch with valid changes plus one delete too many: must throw
    /// `DataflowError.sink` and leave rows and delivered epoch as they were.
    private mutating func deliverBadDelete(_ sink: any ViewSink) throws {
        var next = orders
        var changes = randomOrderChanges(&next)
        let victim: OrderRow
        if let held = heldRow(next), random(2) == 0 {
            // A row held n times (after this epoch's own changes), deleted n + 1 times.
            victim = held
            changes += Array(repeating: (.delete, held), count: next.count(held) + 1)
        } else {
            victim = OrderRow(id: 99, price: 2, time: 3, name: "absent \(step)")
            changes.append((.delete, victim))
        }
        changes.shuffle(using: &g)
        let message = sinkError("\(prefix): bad delete of \(victim.fields)") {
            try sink.deliver(view: "orders", epoch: ordersEpoch + 1, changes: SinkFixtures.ordersChunk(changes))
        }
        if let message {
            #expect(message.contains("orders"), "\(prefix): the error names the view: \(message)")
        }
        #expect(try sink.deliveredEpoch(view: "orders") == ordersEpoch, "\(prefix): progress moved after a failed epoch")
    }

    func check(_ sink: any ViewSink) throws {
        #expect(try sink.deliveredEpoch(view: "orders") == ordersEpoch, "\(prefix): delivered epoch of orders")
        #expect(try sink.deliveredEpoch(view: "totals") == totalsEpoch, "\(prefix): delivered epoch of totals")
        let rows = try sink.rows(view: "orders")
        #expect(rows == SinkFixtures.expected(orders), "\(prefix): orders differ: \(rows.count) rows vs \(orders.elements.count)")
        #expect(try sink.rows(view: "totals") == SinkFixtures.expected(totals), "\(prefix): totals differ")
    }
}
