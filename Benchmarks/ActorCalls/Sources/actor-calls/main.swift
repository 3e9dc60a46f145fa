import Floe
#if canImport(Glibc)
import Glibc
#endif

// The obvious code, as a user writes it: top-level code runs on the main actor.
// Usage: actor-calls STORE --fill   (1,000,000 keys of 16 + 100 B, compacted), then
//        actor-calls STORE          (3 repetitions of every loop; release build)
func now() -> Double { var ts = timespec(); clock_gettime(CLOCK_MONOTONIC, &ts); return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9 }

let path = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "/tmp/hop-store"
let n = 1_000_000
var o = StoreOptions()
let store: StateStore
if CommandLine.arguments.contains("--fill") {
    store = try await StateStore.open(path: path, options: o)
    var rng = UInt64(42)
    var epoch: Epoch = 1
    var batch = 0
    for i in 0..<n {
        rng = rng &* 6364136223846793005 &+ 1442695040888963407
        var k = [UInt8](repeating: 0, count: 16)
        withUnsafeBytes(of: UInt64(i).bigEndian) { for j in 0..<8 { k[j] = $0[j] } }
        withUnsafeBytes(of: rng) { for j in 0..<8 { k[8 + j] = $0[j] } }
        try store.put(TableID(1), key: k, value: [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 100), epoch: epoch)
        batch += 1
        if batch == 10_000 { try await store.checkpoint(epoch: epoch, metadata: [:]); epoch += 1; batch = 0 }
    }
    try await store.checkpoint(epoch: epoch, metadata: [:])
    _ = try await store.compactUntilQuiescent()
    try await store.close()
    print("filled")
    exit(0)
}
store = try await StateStore.open(path: path, options: o)
let epoch = store.committedEpoch
// Collect the keys once (a scan, not measured).
var keys: [[UInt8]] = []
keys.reserveCapacity(n)
try await store.scan(TableID(1), from: nil, to: nil, epoch: epoch).forEachRow { k, _ in keys.append(Array(k)); return true }
var order = Array(0..<keys.count)
var r = UInt64(7)
for i in stride(from: order.count - 1, to: 0, by: -1) { r = r &* 6364136223846793005 &+ 1; order.swapAt(i, Int(r % UInt64(i + 1))) }
let gets = 500_000
// warm
for i in 0..<gets { _ = try await store.get(TableID(1), key: keys[order[i]], epoch: epoch) }

func getsNonisolated(_ s: StateStore, _ keys: [[UInt8]], _ order: [Int], _ e: Epoch) async throws -> Double {
    let t = now()
    var found = 0
    for i in 0..<gets { if try await s.get(TableID(1), key: keys[order[i]], epoch: e) != nil { found += 1 } }
    precondition(found == gets)
    return Double(gets) / (now() - t)
}
func scanNonisolated(_ s: StateStore, _ e: Epoch) async throws -> Double {
    let t = now()
    var rows = 0
    for try await (k, _) in try await s.scan(TableID(1), from: nil, to: nil, epoch: e) { rows += k.count > 0 ? 1 : 0 }
    return Double(rows) / (now() - t)
}
@MainActor func scanOnMainActor(_ s: StateStore, _ e: Epoch) async throws -> Double {
    let t = now()
    var rows = 0
    for try await (k, _) in try await s.scan(TableID(1), from: nil, to: nil, epoch: e) { rows += k.count > 0 ? 1 : 0 }
    return Double(rows) / (now() - t)
}
actor Reader {
    func scan(_ s: StateStore, _ e: Epoch) async throws -> Double {
        let t = now()
        var rows = 0
        for try await (k, _) in try await s.scan(TableID(1), from: nil, to: nil, epoch: e) { rows += k.count > 0 ? 1 : 0 }
        return Double(rows) / (now() - t)
    }
    func seeks(_ s: StateStore, _ keys: [[UInt8]], _ order: [Int], _ e: Epoch, count: Int) async throws -> Double {
        let t = now()
        var rows = 0
        for i in 0..<count {
            var n = 0
            for try await (k, _) in try await s.scan(TableID(1), from: keys[order[i]], to: nil, epoch: e) {
                rows += k.count > 0 ? 1 : 0
                n += 1
                if n == 100 { break }
            }
        }
        precondition(rows > count * 90)
        return Double(count) / (now() - t)
    }
    func seeksForEachRow(_ s: StateStore, _ keys: [[UInt8]], _ order: [Int], _ e: Epoch, count: Int) async throws -> Double {
        let t = now()
        var rows = 0
        for i in 0..<count {
            var left = 100
            try await s.scan(TableID(1), from: keys[order[i]], to: nil, epoch: e).forEachRow { k, _ in
                rows += k.count > 0 ? 1 : 0
                left -= 1
                return left > 0
            }
        }
        precondition(rows > count * 90)
        return Double(count) / (now() - t)
    }
    func getLoop(_ s: StateStore, _ keys: [[UInt8]], _ order: [Int], _ e: Epoch) async throws -> Double {
        let t = now()
        var found = 0
        for i in 0..<gets { if try await s.get(TableID(1), key: keys[order[i]], epoch: e) != nil { found += 1 } }
        precondition(found == gets)
        return Double(gets) / (now() - t)
    }
}
let reader = Reader()
// `--seeks`: only seek + 100 rows from an actor (for profiles), five repetitions.
if CommandLine.arguments.contains("--seeks") {
    for rep in 0..<5 {
        let r = CommandLine.arguments.contains("--fe-only") ? 0 : try await reader.seeks(store, keys, order, epoch, count: 100_000)
        let f = try await reader.seeksForEachRow(store, keys, order, epoch, count: 100_000)
        print("rep \(rep): seek + 100 rows in an actor: for try await \(Int(r)) ops/s, forEachRow \(Int(f)) ops/s")
    }
    try await store.close()
    exit(0)
}
// `--scans`: only the full scans (for profiles), five repetitions each.
if CommandLine.arguments.contains("--scans") {
    for rep in 0..<5 {
        let a = try await reader.scan(store, epoch)
        let m = try await scanOnMainActor(store, epoch)
        let n = try await scanNonisolated(store, epoch)
        print("rep \(rep): for-try-await scan in an actor \(Int(a)) rows/s, main actor \(Int(m)), nonisolated \(Int(n))")
    }
    try await store.close()
    exit(0)
}
for rep in 0..<3 {
    let fnMain = try await scanOnMainActor(store, epoch)
    let actorScan = try await reader.scan(store, epoch)
    let actorGets = try await reader.getLoop(store, keys, order, epoch)
    print("rep \(rep): scan in a @MainActor func \(Int(fnMain)) rows/s, in an actor \(Int(actorScan)) rows/s; gets in an actor \(Int(actorGets))/s")
    var t = now()
    var found = 0
    for i in 0..<gets { if try await store.get(TableID(1), key: keys[order[i]], epoch: epoch) != nil { found += 1 } }
    precondition(found == gets)
    let mainGets = Double(gets) / (now() - t)
    let nonGets = try await getsNonisolated(store, keys, order, epoch)
    t = now()
    var rows = 0
    for try await (k, _) in try await store.scan(TableID(1), from: nil, to: nil, epoch: epoch) { rows += k.count > 0 ? 1 : 0 }
    let mainScan = Double(rows) / (now() - t)
    let nonScan = try await scanNonisolated(store, epoch)
    t = now()
    var rows2 = 0
    try await store.scan(TableID(1), from: nil, to: nil, epoch: epoch).forEachRow { _, _ in rows2 += 1; return true }
    let fe = Double(rows2) / (now() - t)
    print("rep \(rep): get main-actor \(Int(mainGets))/s nonisolated \(Int(nonGets))/s | for-try-await scan main-actor \(Int(mainScan)) rows/s nonisolated \(Int(nonScan)) rows/s | forEachRow \(Int(fe)) rows/s")
}
try await store.close()
