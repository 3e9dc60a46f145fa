import Floe

/// scanall: one full scan of the table at the committed epoch; ops are rows.
enum ScanAllWorkload {
    static func benchmark(_ ctx: BenchContext) async throws -> BenchResult {
        let db = try await ctx.store()
        let o = ctx.options
        let bar = ProgressBar("scanall", total: o.num)
        let before = db.statistics
        var rows = 0, bytes = 0
        let seconds = try await Timer.measure {
            // forEachRow hands out borrowed bytes: no per-row arrays, as the peers' iterators.
            try await db.scan(ctx.table, from: nil, to: nil, epoch: db.committedEpoch).forEachRow { k, v in
                rows += 1
                bytes += k.count + v.count
                if rows & 4095 == 0 { bar.advance(4096) }
                return true
            }
        }
        bar.finish()
        if ctx.exactKeySet, rows != o.num { throw WorkloadError("scanall: saw \(rows) rows, expected \(o.num)") }
        var r = BenchResult(name: "scanall", ops: rows, seconds: seconds)
        r.bytes = bytes
        r.details = ["\(grouped(rows)) rows, \(NumberText.bytes(bytes)) of keys and values", cacheLine(before: before, after: db.statistics)]
        return r
    }
}
