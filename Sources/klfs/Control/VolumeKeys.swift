import CFuse
import Foundation
import KLBlock
import KLEngine

/// The keys a mount holds and the state they are in: unlocked, suspended
/// or locked (``VolumeState``). Every crypto call of the mount goes through
/// ``using(_:_:)`` (by way of ``GatedXTSKey`` and ``GatedBlockKey``), which
/// reads the current keys without a lock, waits while suspended, fails
/// while locked, and on a refused handle asks the canary whether the IWKey
/// changed (the volume locks) or the handle was tampered with (the error
/// stands, as before). Suspend, lock and resume take ``lock``.
final class VolumeKeys: @unchecked Sendable {
    let engine: any XTSEngine
    let statistics: OperationStatistics
    private let publication: KeyPublication
    /// Guards everything below, and is the condition suspended requests wait on.
    private let lock = NSCondition()
    /// The set ``publication`` holds (nil while suspended or locked).
    private var installed: KeySet?
    private(set) var state = VolumeState.unlocked
    private(set) var cause: LockCause?
    /// What ENCODEKEY reported at the last unlock; kept while locked.
    private(set) var wrappingKey: IWKeyAttributes?
    /// keylocker-soft's IWKey was wiped by suspend or lock: resume makes a
    /// new one before it wraps.
    private var iwkeyWiped = false
    /// Whether the FUSE session has ended (unmounted or signalled), so that
    /// requests waiting while suspended stop waiting and let the workers,
    /// and the daemon, end.
    private var sessionEnded: () -> Bool = { false }

    init(_ keys: KeySet, engine: any XTSEngine, statistics: OperationStatistics) {
        self.engine = engine
        self.statistics = statistics
        publication = KeyPublication(keys)
        installed = keys
        wrappingKey = keys.contents.wrappingKey
    }

    // MARK: Crypto calls

    /// Runs `body` with the current set, borrowed: a key it uses is not
    /// copied out (a copy would retain and release the key's objects from
    /// every worker's core). While suspended it waits for resume first;
    /// while locked it throws ``EngineError/iwkeyAbsent``
    /// (``VolumeState/lockedErrno`` to the caller). A call is never retried
    /// once it has run: an in-place call that failed has zeroed its buffer.
    func using<R>(_ body: (KeySet) throws(EngineError) -> R) throws(EngineError) -> R {
        while true {
            var refusedBy: KeySet?
            let attempt = publication.read { keys -> Result<R, EngineError>? in
                guard let keys else { return nil }
                do throws(EngineError) {
                    return .success(try body(keys))
                } catch {
                    if error == .handleRejected || error == .iwkeyAbsent { refusedBy = keys }
                    return .failure(error)
                }
            }
            switch attempt {
            case .success(let result):
                return result
            case .failure(let error):
                if let refusedBy { try lockIfIWKeyLost(refusedBy) }
                throw error
            case nil:
                try waitForKeys()
            }
        }
    }

    /// Blocks while suspended; throws when locked, and once the session
    /// ended (checked every second: nothing signals the condition then).
    private func waitForKeys() throws(EngineError) {
        lock.lock()
        defer { lock.unlock() }
        while state == .suspended {
            if sessionEnded() { throw .iwkeyAbsent }
            _ = lock.wait(until: Date(timeIntervalSinceNow: 1))
        }
        if state == .locked { throw .iwkeyAbsent }
    }

    /// Requests waiting for resume give up once `ended` says the FUSE
    /// session is over.
    func abandonWaits(when ended: @escaping () -> Bool) {
        lock.lock()
        defer { lock.unlock() }
        sessionEnded = ended
    }

    /// A handle of `keys` was refused: if their canary fails too, the IWKey
    /// changed and the volume locks (throws ``EngineError/iwkeyAbsent``);
    /// if it works, the handle itself is bad and the caller's error stands.
    private func lockIfIWKeyLost(_ keys: KeySet) throws(EngineError) {
        statistics.handleFailures.add(1)
        guard let canary = keys.canary, (try? canary.causeOfRefusal()) == .iwkeyChanged else { return }
        lock.lock()
        defer { lock.unlock() }
        if installed === keys {
            takeKeys()
            enter(.locked, because: .iwkeyLost)
            cfuse_log(FUSE_LOG_ERR, "klfs: the IWKey that wrapped this volume's handles is gone (the canary fails too: a sleep without an IWKey backup, a new IWKey, a restore on another boot); the volume is locked, requests that need a key fail with EKEYREVOKED until 'klfs resume'")
        }
        throw .iwkeyAbsent
    }

    // MARK: Suspend, lock, resume

    /// Drops the keys (and wipes keylocker-soft's IWKey); requests that need
    /// a key wait (`.suspended`) or fail (`.locked`) until ``resume(with:)``.
    func withdrawKeys(into target: VolumeState, because cause: LockCause) throws(EngineError) {
        lock.lock()
        defer { lock.unlock() }
        if installed != nil { takeKeys() }
        if let lifecycle = engine as? any IWKeyLifecycle, lifecycle.supportedIWKeyEvents.contains(.wipe), !iwkeyWiped {
            try lifecycle.perform(.wipe)
            iwkeyWiped = true
        }
        enter(target, because: cause)
    }

    /// Wraps fresh keys from `unlock` (which reads the secret and runs the
    /// KDF; a wrong secret throws and changes nothing) under the current
    /// IWKey, and wakes the requests waiting. keylocker-soft gets a new
    /// IWKey first when suspend or lock wiped it, or when it was lost (a
    /// wipe by someone else leaves none to wrap under). Nothing happens on
    /// an unlocked volume.
    func resume(with unlock: (any XTSEngine) throws(CommandFailure) -> KeySet) throws(CommandFailure) {
        lock.lock()
        defer { lock.unlock() }
        guard state != .unlocked else { return }
        if iwkeyWiped || cause == .iwkeyLost, let lifecycle = engine as? any IWKeyLifecycle,
           lifecycle.supportedIWKeyEvents.contains(.wipe) {
            do throws(EngineError) { try lifecycle.perform(.newKey) } catch { throw CommandFailure(error) }
            iwkeyWiped = false
        }
        let keys = try unlock(engine)
        publication.replace(with: keys)
        installed = keys
        wrappingKey = keys.contents.wrappingKey
        enter(.unlocked, because: nil)
        cfuse_log(FUSE_LOG_NOTICE, "klfs: resumed: keys wrapped again under the current IWKey")
    }

    /// For testing only: performs `event` on the daemon's engine, as the
    /// kernel or firmware would change the IWKey under a running mount.
    func perform(_ event: IWKeyEvent) throws(EngineError) {
        guard let lifecycle = engine as? any IWKeyLifecycle else {
            throw .iwkeyEventUnsupported(event, engine.kind)
        }
        try lifecycle.perform(event)
    }

    /// Under ``lock``: unpublishes the keys and waits until no call uses them.
    private func takeKeys() {
        publication.replace(with: nil)
        installed = nil
    }

    /// Under ``lock``.
    private func enter(_ newState: VolumeState, because newCause: LockCause?) {
        state = newState
        cause = newCause
        lock.broadcast()
    }

    /// State, cause and IWKey report together, for `klfs status`.
    func snapshot() -> (state: VolumeState, cause: LockCause?, wrappingKey: IWKeyAttributes?) {
        lock.lock()
        defer { lock.unlock() }
        return (state, cause, wrappingKey)
    }
}
