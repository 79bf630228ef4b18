import Glibc
import KLEngine

/// Runs one cycle under the load: takes the keys away, waits until the
/// load shows it (every thread blocked, or refused), holds that for a
/// moment, resumes, and waits until every thread is served again.
struct LifecycleCycleRunner {
    let mount: MountTable.Mount
    let load: LifecycleLoad
    /// Both outlive every cycle; the command wipes them.
    let passphrase: SecretBytes
    let masterKey: SecretBytes
    /// How long the keys stay away once the load shows it, and the load
    /// then runs unlocked before the next cycle.
    let holdNanoseconds: UInt64

    /// A thread whose request has waited this long is taken as blocked
    /// (a 4 KiB request is served in well under a millisecond; only
    /// the trigger of the hold depends on it, no measured number).
    private static let blockedAfter: UInt64 = 2_000_000

    /// The cycle's timeline, or nil when the engine cannot perform its
    /// IWKey event (aesni; keylocker without the emulator).
    func run(_ kind: LifecycleCycleKind) throws(CommandFailure) -> CycleTimeline? {
        let withdrawSent = MonotonicClock.nanoseconds()
        let answer = try ControlClient.send(kind.withdrawal, to: mount)
        if !answer.ok && answer.exitStatus == ExitStatus.iwkeyEventUnsupported.rawValue { return nil }
        _ = try ControlClient.require(answer)
        let withdrawAnswered = MonotonicClock.nanoseconds()
        var lockedSeen: UInt64?
        if kind == .iwkeyLoss { lockedSeen = try waitUntil("klfs status says locked", statusSaysLocked) }
        if kind.blocksRequests {
            _ = try waitUntil("every load thread waits") { load.everyRequestWaiting(longerThan: Self.blockedAfter) }
        } else {
            _ = try waitUntil("every load thread gets EKEYREVOKED") { load.everyThreadRefused(after: withdrawSent) }
        }
        usleep(UInt32(holdNanoseconds / 1000))
        let resumeSent = MonotonicClock.nanoseconds()
        try resume(with: kind.resumeKey)
        let resumeAnswered = MonotonicClock.nanoseconds()
        let settled = try waitUntil("every load thread is served again") { load.everyThreadServed(after: resumeAnswered) }
        // As long unlocked as locked, so that the next cycle meets the load
        // running steadily, not threads just let go.
        usleep(UInt32(holdNanoseconds / 1000))
        return CycleTimeline(kind: kind, withdrawSent: withdrawSent, withdrawAnswered: withdrawAnswered,
                             lockedSeen: lockedSeen, resumeSent: resumeSent, resumeAnswered: resumeAnswered,
                             settled: settled)
    }

    private func resume(with kind: ControlRequest.SecretKind) throws(CommandFailure) {
        let secret = kind == .passphrase ? passphrase : masterKey
        _ = try ControlClient.require(try ControlClient.send(.resume(kind, length: secret.count), secret: secret,
                                                             to: mount))
    }

    private func statusSaysLocked() -> Bool {
        (try? ControlClient.send(.status, to: mount))?.status?.state == .locked
    }

    /// Polls `condition` every 100 µs; returns when it first held. A load
    /// thread that stopped on a problem would never let it hold: that
    /// ends the run at once, as a failed integrity check.
    private func waitUntil(_ what: String, seconds: UInt64 = 30,
                           _ condition: () -> Bool) throws(CommandFailure) -> UInt64 {
        let deadline = MonotonicClock.nanoseconds() + seconds * 1_000_000_000
        while !condition() {
            if let problem = load.firstProblemOfAStoppedThread {
                throw CommandFailure(.problemsFound, "a load thread stopped: \(problem)")
            }
            guard MonotonicClock.nanoseconds() < deadline else {
                throw CommandFailure(.internalError, "gave up after \(seconds) s waiting until \(what)")
            }
            usleep(100)
        }
        return MonotonicClock.nanoseconds()
    }
}
