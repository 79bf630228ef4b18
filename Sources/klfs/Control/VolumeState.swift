import Glibc
import KLEngine

/// Whether a mounted volume holds keys (docs/FUSE.md, "Suspend, lock and
/// IWKey loss").
enum VolumeState: String, Codable, Sendable {
    /// Keys are held; every request is served.
    case unlocked
    /// `klfs suspend`: no keys; requests that need one wait for `klfs resume`.
    case suspended
    /// `klfs lock`, or the IWKey that wrapped the handles was lost: no keys;
    /// requests that need one fail with ``VolumeState/lockedErrno``.
    case locked

    /// What a request that needs a key gets from a locked volume: EKEYREVOKED
    /// ("Key has been revoked"), which no filesystem call gives otherwise, so
    /// that a caller can tell it from damage (EIO) and permissions (EACCES).
    static let lockedErrno = EKEYREVOKED
}

/// Why the volume is suspended or locked.
enum LockCause: String, Codable, Sendable {
    case suspendCommand = "suspend"
    case lockCommand = "lock"
    /// The canary failed with the handle: the IWKey changed.
    case iwkeyLost = "iwkey-lost"
}

extension SystemError {
    /// What a request that needs a key gets from a locked volume.
    static let keysRevoked = SystemError(VolumeState.lockedErrno)
}

extension EngineError {
    /// The error ``VolumeKeys`` gives a call on a locked volume (the engine
    /// itself gives it only for keylocker-soft's wiped IWKey, which only
    /// suspend and lock wipe).
    var meansVolumeLocked: Bool { self == .iwkeyAbsent }
}
