/// Why `floe nexmark run` refused to run: each case names what to fix.
enum NexmarkRunError: Error, CustomStringConvertible {
    /// The query reads a stream whose CSV file is not in the directory.
    case missingCsv(path: String, query: String)
    /// A query name that is not one of the Nexmark views.
    case unknownQuery(String, known: [String])
    /// An option out of its range.
    case badOption(String)
    /// The log already holds the topic with another number of rows than the CSV.
    case topicDiffers(topic: String, logRows: UInt64, csvRows: UInt64, log: String)

    var description: String {
        switch self {
        case let .missingCsv(path, query): return "\(query) reads \(path), which does not exist or cannot be read (floe nexmark generate writes it)"
        case let .unknownQuery(q, known): return "unknown query \"\(q)\" (known: \(known.joined(separator: ", ")))"
        case let .badOption(m): return m
        case let .topicDiffers(topic, logRows, csvRows, log):
            return "the log \(log) holds topic \(topic) with \(logRows) rows but its CSV has \(csvRows): remove the log directory (or pass another --log) to load it again"
        }
    }
}
