import ArgumentParser
import Foundation
import KLBlock
import KLEngine

/// The exit codes klfs documents in README.md. Each failure a user can
/// cause has its own code and a one-line message on stderr.
enum ExitStatus: Int32 {
    case success = 0
    /// Something klfs did not expect; the message says what.
    case internalError = 1
    /// Bad command-line arguments (swift-argument-parser's EX_USAGE).
    case usage = 64

    // Unlocking: 10-19.
    case wrongPassphrase = 10
    case configMissing = 11
    case configCorrupt = 12
    case unsupportedVersionOrFlag = 13
    /// Empty passphrase, passfile or extpass failure, no terminal,
    /// mismatched confirmation, malformed or wrong master key.
    case passphraseUnavailable = 14
    /// CIPHERDIR missing or unusable, klfs.conf unreadable or unwritable.
    case cipherDirUnusable = 15
    case cipherDirNotEmpty = 16
    /// KDF parameters outside the floor and cap (options or klfs.conf).
    case kdfParametersRefused = 17

    // Engines: 20-29.
    /// The engine asked for cannot run on this CPU or kernel.
    case engineUnavailable = 20
    /// --emulate-keylocker could not install the emulator.
    case emulatorUnavailable = 21
    /// The mount's engine cannot perform the IWKey event asked for
    /// (`klfs iwkey-event`, for testing).
    case iwkeyEventUnsupported = 22

    // Mounting: 30-39.
    case mountPointMissing = 30
    case mountPointNotEmpty = 31
    case alreadyMounted = 32
    /// libfuse refused the mount (no /dev/fuse, permissions, options).
    case mountFailed = 33
    case notMounted = 34
    /// The mount point is busy or fusermount3 failed.
    case unmountFailed = 35
    /// The mount's control socket cannot be reached (an older daemon, or
    /// one that died) or answered nonsense.
    case controlUnavailable = 36
    /// The daemon refused the caller: only the user who mounted, and root,
    /// may use the control socket.
    case controlRefused = 37

    // Checking: 40-49.
    /// fsck found damage (docs/FSCK.md).
    case problemsFound = 40

    // Images: 50-59 (docs/IMAGE.md).
    /// The image is missing, not a regular file, unreadable, or shorter
    /// than its payload.
    case imageUnusable = 50
    /// `image format` on a file that holds data, without --force.
    case imageNotEmpty = 51
    /// An image type, hash, key size, sector size or layout this build
    /// does not serve; a LUKS2 feature klfs does not implement (another
    /// cipher, integrity, a reencryption, a token bound to a keyslot),
    /// LUKS1.
    case imageUnsupported = 52
    /// No valid LUKS2 header: both copies corrupt, JSON that breaks the
    /// format, or no LUKS header at all where --type luks2 expects one.
    case luksHeaderInvalid = 53
    /// A keyslot refused: the one named is not in use or is taken, the
    /// last one without --force, none free or no room for another, none
    /// that a passphrase opens, or the header changed meanwhile (retry).
    case keyslotRefused = 54

    var code: ExitCode { ExitCode(rawValue) }
}

/// An error that ends the command with its own exit status.
struct CommandFailure: Error, CustomStringConvertible {
    let status: ExitStatus
    let message: String

    var description: String { message }

    init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    init(_ error: EngineError) {
        switch error {
        case .unavailable, .xtsKernelUnavailable: self.init(.engineUnavailable, error.description)
        case .xtsKernelNotSelectable: self.init(.usage, error.description)
        case .emulatorUnavailable: self.init(.emulatorUnavailable, error.description)
        default: self.init(.internalError, error.description)
        }
    }

    init(_ error: VolumeError) {
        let status: ExitStatus
        switch error {
        case .wrongPassphrase: status = .wrongPassphrase
        case .configMissing: status = .configMissing
        case .configCorrupt: status = .configCorrupt
        case .unsupportedVersion, .unknownFeatureFlags, .upgradeInterrupted, .alreadyUpgraded:
            status = .unsupportedVersionOrFlag
        case .kdfBelowFloor, .kdfAboveCap: status = .kdfParametersRefused
        case .cipherDirNotEmpty: status = .cipherDirNotEmpty
        case .cipherDirUnusable, .configUnreadable, .configUnwritable: status = .cipherDirUnusable
        case .emptyPassphrase, .passphraseTooLong, .passphraseMismatch, .terminalUnavailable,
             .passfileUnreadable, .extpassFailed, .masterKeyMalformed, .masterKeyUnreadable,
             .wrongMasterKey:
            status = .passphraseUnavailable
        case .kdfFailed, .masterKeyUnwritable: status = .internalError
        case .engine(let engineError):
            self.init(engineError)
            return
        }
        self.init(status, error.description)
    }

    init(_ error: ImageError) {
        let status: ExitStatus
        switch error {
        case .system, .imageMissing, .imageNotRegularFile, .payloadBeyondImage: status = .imageUnusable
        case .imageNotEmpty: status = .imageNotEmpty
        case .unsupportedSectorSize, .unsupportedKeySize, .misalignedOffset, .misalignedSize, .unsupportedHash,
             .invalidHashLength, .fixedSize:
            status = .imageUnsupported
        case .keyfileTooShort, .passphraseTooShort: status = .passphraseUnavailable
        case .notTheOpenedKey: status = .wrongPassphrase
        case .outOfRange, .pastEnd: status = .usage
        case .passphrase(let volumeError):
            self.init(volumeError)
            return
        case .engine(let engineError):
            self.init(engineError)
            return
        case .luks2(let luks2Error):
            self.init(luks2Error)
            return
        }
        self.init(status, error.description)
    }

    init(_ error: LUKS2Error) {
        let status: ExitStatus
        switch error {
        case .wrongPassphrase: status = .wrongPassphrase
        case .wrongVolumeKey: status = .passphraseUnavailable
        case .io: status = .imageUnusable
        case .imageExists: status = .imageNotEmpty
        case .notLUKS, .headerCorrupt, .metadataInvalid: status = .luksHeaderInvalid
        case .unsupportedVersion, .unsupportedCipher, .unsupportedKeySize, .unsupportedSectorSize, .integrityUnsupported,
             .mandatoryRequirements, .reencryptionInProgress, .tokenUnsupported, .unsupportedSegments, .unsupportedKDF,
             .unsupportedHash, .unsupportedKeyslot, .unsupportedDigest:
            status = .imageUnsupported
        case .noUsableKeyslot, .keyslotNotFound, .keyslotUnavailable, .lastKeyslot, .noFreeKeyslot, .keyslotsAreaFull,
             .headerChanged:
            status = .keyslotRefused
        case .kdfFailed: status = .kdfParametersRefused
        case .engine(let engineError):
            self.init(engineError)
            return
        }
        self.init(status, error.description)
    }
}

extension ParsableCommand {
    /// Runs `body`, turning a failure into its message on stderr and its
    /// documented exit status.
    func reportingFailures(_ body: () throws -> Void) throws {
        let failure: CommandFailure
        do {
            try body()
            return
        } catch let error as CommandFailure {
            failure = error
        } catch let error as VolumeError {
            failure = CommandFailure(error)
        } catch let error as EngineError {
            failure = CommandFailure(error)
        } catch let error as ImageError {
            failure = CommandFailure(error)
        } catch let error as LUKS2Error {
            failure = CommandFailure(error)
        }
        printError("klfs: \(failure.message)")
        throw failure.status.code
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
