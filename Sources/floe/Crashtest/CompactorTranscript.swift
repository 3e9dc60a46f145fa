import Floe

/// What a `floe compact` process printed, counted: tasks committed (one line
/// each, starting with the task kind), stale tasks, re-attaches after its session
/// was ended, and objects its GC deleted. Counted from the lines rather than the
/// final summary, so a compactor killed before it printed one still counts.
struct CompactorTranscript: Equatable {
    var attaches = 0
    var reattaches = 0
    var tasks = 0
    var stale = 0
    var gcDeleted = 0

    init() {}

    init(_ stdout: String) {
        for line in stdout.split(separator: "\n") {
            if line.hasPrefix(CompactCommand.attachedPrefix) {
                attaches += 1
            } else if line.hasPrefix(CompactCommand.reattachedPrefix) {
                reattaches += 1
            } else if line.hasPrefix(CompactCommand.stalePrefix) {
                stale += 1
            } else if line.hasPrefix(CompactCommand.gcDeletedPrefix) {
                gcDeleted += Int(line.dropFirst(CompactCommand.gcDeletedPrefix.count).prefix { $0.isNumber }) ?? 0
            } else if let word = line.split(separator: " ").first, CompactionTask.Kind(rawValue: String(word)) != nil {
                tasks += 1
            }
        }
    }

    static func += (a: inout CompactorTranscript, b: CompactorTranscript) {
        a.attaches += b.attaches
        a.reattaches += b.reattaches
        a.tasks += b.tasks
        a.stale += b.stale
        a.gcDeleted += b.gcDeleted
    }
}
