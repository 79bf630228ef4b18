import CFuse
import Foundation

/// Error lines logged once per mount for each cause, however often the
/// cause is met again: a damaged entry is met on every listing, a damaged
/// file on every read.
final class OnceLog<Cause: Hashable>: @unchecked Sendable {
    private let lock = NSLock()
    private var logged = Set<Cause>()

    /// Logs `message` unless a line for `cause` was logged before.
    func error(_ cause: Cause, _ message: @autoclosure () -> String) {
        let first = lock.withLock { logged.insert(cause).inserted }
        guard first else { return }
        cfuse_log(FUSE_LOG_ERR, message())
    }
}
