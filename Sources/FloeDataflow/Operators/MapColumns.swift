/// An output column of a map (`PipelineBuilder.map`, `Transform.map`).
public enum MapExpression: Sendable, Hashable {
    /// The input column, unchanged.
    case column(Int)
    /// An integer-like input column (int64 or decimal of scale s) times the decimal
    /// constant `factor / 10^scale`: a decimal of scale s + `scale`, exact (the
    /// stored integer is the input's times `factor`).
    case multiply(Int, factor: Int64, scale: Int)

    /// The type of the output column over input columns of `input`.
    func outputType(_ input: [ColumnType]) -> ColumnType {
        switch self {
        case let .column(c): return input[c]
        case let .multiply(c, _, scale):
            if case let .decimal(s) = input[c] { return .decimal(scale: s + scale) }
            return .decimal(scale: scale)
        }
    }
}

extension Transform {
    /// Computes the output columns `expressions` from every row, keeping its op.
    /// One pass per output column over the whole chunk; no allocation per row.
    /// Throws `DataflowError.overflow` when a product leaves the 64-bit range.
    public static func map(_ input: [ColumnType], _ expressions: [MapExpression]) -> Transform {
        Transform(outputTypes: expressions.map { $0.outputType(input) }) { c, out in
            let n = c.count
            out.reserve(out.count + n)
            for r in 0..<n {
                out.appendOp(c.op(r))
                for (i, e) in expressions.enumerated() {
                    switch e {
                    case let .column(col):
                        if input[col].isInteger { out.appendInt(i, c.int(col, r)) } else { out.appendBytes(i, c.bytes(col, r)) }
                    case let .multiply(col, factor, _):
                        let (v, o) = c.int(col, r).multipliedReportingOverflow(by: factor)
                        if o { throw DataflowError.overflow("map: column \(col) times \(factor) leaves the 64-bit range") }
                        out.appendInt(i, v)
                    }
                }
            }
        }
    }
}
