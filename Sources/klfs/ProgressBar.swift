import Foundation
import Glibc

/// A one-line progress bar on stderr, only when stderr is a terminal, and
/// redrawn at most ten times a second so that drawing never slows the work.
final class ProgressBar {
    private static let minimumInterval: UInt64 = 100_000_000
    private static let width = 30
    private var lastDrawn: UInt64?

    private init() {}

    /// nil when stderr is not a terminal: pipes and log files get nothing.
    static func onTerminal() -> ProgressBar? {
        isatty(STDERR_FILENO) == 1 ? ProgressBar() : nil
    }

    /// `fraction` from 0 to 1, `detail` after the percentage.
    func update(fraction: Double, detail: String) {
        let now = MonotonicClock.nanoseconds()
        if let lastDrawn, now - lastDrawn < Self.minimumInterval { return }
        lastDrawn = now
        let filled = Int((fraction * Double(Self.width)).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: Self.width - filled)
        let percent = Int((fraction * 100).rounded(.down))
        // \r returns to the line's start, ESC[K clears what a longer line left.
        write("\r[\(bar)] \(percent)%  \(detail)\u{1B}[K")
    }

    /// Clears the bar's line, so the report starts on a clean one.
    func finish() {
        if lastDrawn != nil { write("\r\u{1B}[K") }
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
