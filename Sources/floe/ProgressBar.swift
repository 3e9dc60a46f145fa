import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A one-line progress bar on stderr for long benchmark phases, drawn only when
/// stderr is a terminal (so logs and pipes stay clean). Workers report progress
/// in batches with `advance`; the bar redraws about 200 times over a phase, by
/// whichever worker crosses the next step, and `finish` erases it.
final class ProgressBar: Sendable {
    private let label: String
    private let total: Int
    private let enabled: Bool
    private let start = Timer.now()
    private let done = Atomic<Int>(0)
    private let nextDraw = Atomic<Int>(0)
    private let step: Int

    /// Whether progress bars are drawn at all in this process.
    static let terminal = isatty(2) != 0

    init(_ label: String, total: Int) {
        self.label = label
        self.total = total
        self.enabled = ProgressBar.terminal && total > 0
        self.step = max(1, total / 200)
    }

    /// Adds `n` units of work done.
    @inline(__always)
    func advance(_ n: Int) {
        guard enabled else { return }
        let d = done.add(n, ordering: .relaxed).newValue
        maybeDraw(d)
    }

    /// Sets the work done to `d` (for progress reported from elsewhere, such as a child process).
    func set(_ d: Int) {
        guard enabled else { return }
        done.store(d, ordering: .relaxed)
        maybeDraw(d)
    }

    /// Erases the bar.
    func finish() {
        guard enabled else { return }
        emit("\r\u{1B}[K")
    }

    private func maybeDraw(_ d: Int) {
        let due = nextDraw.load(ordering: .relaxed)
        guard d >= due else { return }
        // One drawer per step: the worker that wins the exchange draws.
        guard nextDraw.compareExchange(expected: due, desired: d + step, ordering: .relaxed).exchanged else { return }
        draw(min(d, total))
    }

    private func draw(_ d: Int) {
        let width = 30
        let fraction = Double(d) / Double(total)
        let filled = Int(fraction * Double(width))
        let elapsed = Timer.now() - start
        var line = "\r" + label + " [" + String(repeating: "=", count: filled)
        if filled < width { line += ">" + String(repeating: " ", count: width - filled - 1) }
        line += "] " + fmt(fraction * 100, 1) + "%  " + grouped(d) + "/" + grouped(total) + "  " + fmt(elapsed, 1) + " s"
        if d > 0 && d < total {
            line += ", ~" + fmt(elapsed * Double(total - d) / Double(d), 0) + " s left"
        }
        emit(line + "\u{1B}[K")
    }

    private func emit(_ s: String) {
        var bytes = Array(s.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }
}
