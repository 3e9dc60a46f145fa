/// `TABLE=N` command-line specs of prefix filter lengths (`floe compact
/// --prefix-filter`): a standalone compactor must build its output SSTs with the
/// writer's `StoreOptions.prefixFilterLengths` (options are not in the manifest),
/// or those files lose the filter and prefix scans read them.
package enum PrefixFilterSpec {
    /// Parses each `TABLE=N` (decimal table id, length 1...1024; a table given once).
    /// Throws `FloeError.invalidArgument` naming the bad spec.
    package static func parse(_ specs: [String]) throws -> [TableID: Int] {
        var out: [TableID: Int] = [:]
        for spec in specs {
            let parts = spec.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2, let t = UInt32(parts[0]), let n = Int(parts[1]), (1...1024).contains(n) else {
                throw FloeError.invalidArgument("prefix filter '\(spec)' is not TABLE=N with N in 1...1024")
            }
            guard out.updateValue(n, forKey: TableID(t)) == nil else {
                throw FloeError.invalidArgument("prefix filter of table \(t) given twice")
            }
        }
        return out
    }

    /// The `--prefix-filter` arguments for `lengths`, in table order.
    package static func arguments(_ lengths: [TableID: Int]) -> [String] {
        lengths.sorted { $0.key < $1.key }.flatMap { ["--prefix-filter", "\($0.key.raw)=\($0.value)"] }
    }
}
