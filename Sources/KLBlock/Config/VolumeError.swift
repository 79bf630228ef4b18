import Glibc
import KLEngine

/// Every way a volume operation can fail that a user can cause or must
/// hear about. The CLI maps each case to its own exit code; KLBlock only
/// keeps them distinct and gives each a one-line message.
public enum VolumeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The AEAD refused to open the wrapped master key: wrong passphrase,
    /// or a config field changed since it was written.
    case wrongPassphrase
    /// The master key given for recovery does not match the volume's
    /// key check value.
    case wrongMasterKey
    /// CIPHERDIR has no klfs.conf.
    case configMissing(path: String)
    /// klfs.conf exists but cannot be read (permissions, I/O error).
    case configUnreadable(path: String, errno: Int32)
    /// klfs.conf is not a valid config: unparseable or truncated JSON, a
    /// missing field, bad base64, an out-of-range value. The text says which.
    case configCorrupt(String)
    /// A format version this build does not know.
    case unsupportedVersion(Int)
    /// Feature flags this build does not know; the volume may use a format
    /// it cannot read, so it refuses to unlock.
    case unknownFeatureFlags([String])
    /// klfs.conf says a `klfs upgrade` began and did not finish.
    case upgradeInterrupted
    /// `klfs upgrade` on a volume that is already at `version`.
    case alreadyUpgraded(version: Int)
    /// Argon2id parameters below the floor (a tampered or hand-edited config,
    /// or an override that is too weak).
    case kdfBelowFloor(opslimit: UInt64, memlimit: UInt64)
    /// Argon2id parameters above the cap (a hostile config trying to make
    /// unlock exhaust memory or time, or an override that is too large).
    case kdfAboveCap(opslimit: UInt64, memlimit: UInt64)
    /// libsodium's Argon2id failed (out of memory, most likely).
    case kdfFailed
    /// init refuses a CIPHERDIR that already holds something.
    case cipherDirNotEmpty(path: String)
    /// CIPHERDIR is missing, not a directory, or not readable.
    case cipherDirUnusable(path: String, errno: Int32)
    /// klfs.conf (or its temporary file) could not be written.
    case configUnwritable(path: String, errno: Int32)
    case emptyPassphrase
    case passphraseTooLong(limit: Int)
    /// The two passphrases typed at init or passwd differ.
    case passphraseMismatch
    /// No terminal to prompt on (and no --passfile or --extpass).
    case terminalUnavailable(errno: Int32)
    case passfileUnreadable(path: String, errno: Int32)
    /// The --extpass command could not run, or exited with a failure.
    case extpassFailed(command: String, reason: String)
    /// The text given as a master key is not 128 hex digits.
    case masterKeyMalformed(String)
    /// The master key text could not be read from its file or descriptor.
    case masterKeyUnreadable(errno: Int32)
    /// The master key could not be written out (init's paper backup).
    case masterKeyUnwritable(errno: Int32)
    /// Secret memory, randomness or the engine failed.
    case engine(EngineError)

    public var description: String {
        switch self {
        case .wrongPassphrase:
            return "wrong passphrase (or klfs.conf was modified)"
        case .wrongMasterKey:
            return "the master key does not belong to this volume, or klfs.conf was altered"
        case .configMissing(let path):
            return "\(path) not found: not a klfs CIPHERDIR"
        case .configUnreadable(let path, let code):
            return "cannot read \(path): \(errorText(code))"
        case .configCorrupt(let why):
            return "klfs.conf is corrupt: \(why)"
        case .unsupportedVersion(let version):
            let supported = VolumeConfig.supportedVersions
            return "klfs.conf format version \(version) is not supported (this klfs reads versions \(supported.lowerBound) to \(supported.upperBound))"
        case .unknownFeatureFlags(let flags):
            return "klfs.conf uses unknown feature flag(s): \(flags.joined(separator: ", "))"
        case .upgradeInterrupted:
            return "an upgrade of this volume to format version 2 was interrupted; run `klfs upgrade` on it again to finish it"
        case .alreadyUpgraded(let version):
            return "the volume is already format version \(version); there is nothing to upgrade"
        case .kdfBelowFloor(let ops, let mem):
            return "Argon2id parameters opslimit \(ops), memlimit \(mem / mebibyte) MiB are below the floor "
                + "(opslimit \(Argon2idCost.floor.opslimit), memlimit \(Argon2idCost.floor.memlimit / mebibyte) MiB)"
        case .kdfAboveCap(let ops, let mem):
            return "Argon2id parameters opslimit \(ops), memlimit \(mem / mebibyte) MiB exceed the cap "
                + "(opslimit \(Argon2idCost.cap.opslimit), memlimit \(Argon2idCost.cap.memlimit / mebibyte) MiB)"
        case .kdfFailed:
            return "Argon2id failed (not enough memory?)"
        case .cipherDirNotEmpty(let path):
            return "CIPHERDIR \(path) is not empty"
        case .cipherDirUnusable(let path, let code):
            return "cannot use CIPHERDIR \(path): \(errorText(code))"
        case .configUnwritable(let path, let code):
            return "cannot write \(path): \(errorText(code))"
        case .emptyPassphrase:
            return "empty passphrase refused"
        case .passphraseTooLong(let limit):
            return "passphrase longer than \(limit) bytes refused"
        case .passphraseMismatch:
            return "the passphrases do not match"
        case .terminalUnavailable(let code):
            return "no terminal to read the passphrase from (\(errorText(code))); use --passfile or --extpass"
        case .passfileUnreadable(let path, let code):
            return "cannot read passfile \(path): \(errorText(code))"
        case .extpassFailed(let command, let reason):
            return "extpass command '\(command)' failed: \(reason)"
        case .masterKeyMalformed(let why):
            return "malformed master key: \(why)"
        case .masterKeyUnreadable(let code):
            return "cannot read the master key: \(errorText(code))"
        case .masterKeyUnwritable(let code):
            return "cannot write the master key: \(errorText(code))"
        case .engine(let error):
            return error.description
        }
    }
}

let mebibyte: UInt64 = 1 << 20

func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

/// Runs `body`, turning an engine failure into a ``VolumeError``.
func engineCall<R>(_ body: () throws(EngineError) -> R) throws(VolumeError) -> R {
    do { return try body() } catch { throw .engine(error) }
}
