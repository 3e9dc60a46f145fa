import Floe

/// compact: compaction of the shared store to quiescence (no task left to pick), timed.
enum CompactWorkload {
    static func benchmark(_ ctx: BenchContext) async throws -> BenchResult {
        let db = try await ctx.store()
        let before = db.statistics
        var tasks = 0
        let seconds = try await Timer.measure { tasks = try await db.compactUntilQuiescent() }
        let st = db.statistics
        var r = BenchResult(name: "compact", ops: tasks, seconds: seconds)
        r.showsRate = false
        r.details = [
            "\(tasks) tasks to quiesce (\(st.compactions - before.compactions) including background ones); \(NumberText.bytes(st.compactionWrittenBytes - before.compactionWrittenBytes)) written; write amp so far \(fmt(st.writeAmplification, 2))",
            shapeLine(st),
        ]
        r.extra = [("write_amplification", .double(st.writeAmplification)), ("sst_bytes", .uint(st.sstBytes))]
        return r
    }
}
