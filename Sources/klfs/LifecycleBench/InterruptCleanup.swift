import Dispatch
import Glibc

/// Runs a clean-up on SIGINT or SIGTERM, then exits with 128 + the signal,
/// as a shell reports a process the signal killed. The signals are taken
/// from their default action for as long as this object lives.
final class InterruptCleanup {
    private let sources: [DispatchSourceSignal]

    init(_ cleanUp: @escaping @Sendable () -> Void) {
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                cleanUp()
                exit(128 + number)
            }
            source.resume()
            return source
        }
    }

    deinit {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
