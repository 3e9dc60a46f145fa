import Floe

/// reopen: close the shared store and open it again from its manifest, timed; the
/// recovered epoch must be the committed one.
enum ReopenWorkload {
    static func benchmark(_ ctx: BenchContext) async throws -> BenchResult {
        let epoch = try await ctx.store().committedEpoch
        let seconds = try await ctx.reopen()
        let db = try await ctx.store()
        guard db.committedEpoch == epoch else { throw WorkloadError("reopen recovered epoch \(db.committedEpoch), expected \(epoch)") }
        // Restart to first answer: one get of a key the fill wrote, on cold caches.
        var value: [UInt8]?
        let firstGet = try await Timer.measure { value = try await db.get(ctx.table, key: ctx.keys.key(0), epoch: db.committedEpoch) }
        if ctx.presence == .all, value == nil { throw WorkloadError("first get after reopen found no value for key 0") }
        let st = db.statistics
        var r = BenchResult(name: "reopen", ops: 1, seconds: seconds)
        r.showsRate = false
        r.details = ["reopened at committed epoch \(epoch), manifest sequence \(st.manifestSequence); \(shapeLine(st))",
                     "first get after the open: \(fmt(firstGet * 1000, 2)) ms (open + first get \(fmt((seconds + firstGet) * 1000, 2)) ms)"]
        return r
    }
}
