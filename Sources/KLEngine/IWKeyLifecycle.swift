/// What can happen to a Key Locker's IWKey that software can cause or
/// stand in for. After any of them, raw keys wrapped again
/// (``XTSEngine/makeKey(dataKey:tweakKey:)``, ``XTSEngine/makeBlockKey(_:)``)
/// give handles under the IWKey that is current then.
public enum IWKeyEvent: String, Sendable, Hashable, CaseIterable {
    /// A new IWKey takes the place of the current one (or of a wiped one):
    /// every handle wrapped before is refused from then on.
    /// keylocker under the emulator: LOADIWKEY with KeySource 1 and backups
    /// allowed on the calling thread's machine, as a kernel loads it after
    /// S3 without a backup or at boot after S5; a CRIU restore on another
    /// boot or a VM migration amounts to the same. keylocker-soft: a fresh
    /// IWKey from getrandom, for a resume or a simulated loss.
    case newKey
    /// keylocker-soft: the IWKey is wiped, for a suspend. Wrapping and
    /// unwrapping fail with ``EngineError/iwkeyAbsent`` until
    /// ``newKey``. A CPU has no such operation.
    case wipe
    /// keylocker under the emulator: WRMSR IA32_COPY_LOCAL_TO_PLATFORM,
    /// which copies the IWKey to platform storage, as a kernel does before
    /// S3 or S4. Refused (``EngineError/iwkeyBackupRefused``) for an IWKey
    /// loaded with NoBackup.
    case backUp
    /// keylocker under the emulator: WRMSR IA32_COPY_PLATFORM_TO_LOCAL,
    /// which makes the backed-up IWKey current again, as a kernel does on
    /// resume: the handles it wrapped work again.
    /// ``EngineError/iwkeyBackupInvalid`` when there is no backup.
    case restore
}

/// A Key Locker engine whose IWKey life cycle software can drive: the
/// daemon's suspend and resume, and tests standing in for what the kernel
/// and the firmware do to the IWKey.
public protocol IWKeyLifecycle: KeyLocker {
    /// The events ``perform(_:)`` accepts: keylocker-soft `newKey` and
    /// `wipe`; keylocker under the emulator `newKey`, `backUp` and `restore`;
    /// keylocker on a real CPU none, since LOADIWKEY and the backup MSRs are
    /// ring 0 only.
    var supportedIWKeyEvents: Set<IWKeyEvent> { get }

    /// Performs `event`, or throws ``EngineError/iwkeyEventUnsupported(_:_:)``.
    /// Safe while other threads run XTS calls and block cipher scopes: each
    /// instruction (keylocker) or call (keylocker-soft) uses the IWKey from
    /// before the event or the one after it, whole; a call that straddles
    /// a change fails with ``EngineError/handleRejected`` and zeroed output.
    func perform(_ event: IWKeyEvent) throws(EngineError)
}
