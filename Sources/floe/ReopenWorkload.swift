import Floe

/// reopen: close the shared store and open it again from its manifest, timed; the
/// recovered epoch must be the committed one.
enum ReopenWorkload {
    static func benchmark(_ ctx: BenchContext) async throws -> BenchResult {
        let epoch = try await ctx.store().committedEpoch
        let seconds = try await ctx.reopen()
        let db = try await ctx.store()
        guard db.committedEpoch == epoch else { throw WorkloadError("reopen recovered epoch \(db.committedEpoch), expected \(epoch)") }
        let st = db.statistics
        var r = BenchResult(name: "reopen", ops: 1, seconds: seconds)
        r.showsRate = false
        r.details = ["reopened at committed epoch \(epoch), manifest sequence \(st.manifestSequence); \(shapeLine(st))"]
        return r
    }
}
