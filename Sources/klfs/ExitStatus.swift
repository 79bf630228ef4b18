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
    /// The engine asked for cannot run on this CPU or kernel.
    case engineUnavailable = 20
    /// --emulate-keylocker could not install the emulator.
    case emulatorUnavailable = 21
    /// The passphrase does not open klfs.conf (or klfs.conf was modified).
    case wrongPassphrase = 10
    /// The --masterkey given does not belong to this volume.
    case wrongMasterKey = 11
    /// CIPHERDIR has no klfs.conf.
    case configMissing = 12
    /// klfs.conf cannot be read or parsed, or its KDF parameters are out of range.
    case configCorrupt = 13
    /// klfs.conf has a format version or a feature flag this klfs does not know.
    case unsupportedVolume = 14
    /// No passphrase could be had: no terminal, unreadable --passfile,
    /// failing --extpass, empty or too long.
    case passphraseUnavailable = 15
    /// The --masterkey text is unreadable or not 128 hex digits.
    case masterKeyUnusable = 16
    /// init: CIPHERDIR is not empty, or is not a usable directory.
    case cipherDirUnusable = 17
    /// MOUNTPOINT does not exist or is not a directory.
    case mountPointMissing = 30
    /// MOUNTPOINT holds files (klfs never hides them under a mount).
    case mountPointNotEmpty = 31
    /// Something is mounted on MOUNTPOINT already (maybe a dead klfs).
    case alreadyMounted = 32
    /// libfuse could not mount (no /dev/fuse, no permission, bad option).
    case mountFailed = 33
    /// unmount: nothing is mounted on MOUNTPOINT.
    case notMounted = 34
    /// unmount: the kernel refused (busy: a process uses the mount).
    case unmountFailed = 35

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

    init(_ error: VolumeError) {
        let status: ExitStatus
        switch error {
        case .wrongPassphrase: status = .wrongPassphrase
        case .wrongMasterKey: status = .wrongMasterKey
        case .configMissing: status = .configMissing
        case .configUnreadable, .configCorrupt, .kdfBelowFloor, .kdfAboveCap: status = .configCorrupt
        case .unsupportedVersion, .unknownFeatureFlags: status = .unsupportedVolume
        case .emptyPassphrase, .passphraseTooLong, .passphraseMismatch, .terminalUnavailable,
             .passfileUnreadable, .extpassFailed: status = .passphraseUnavailable
        case .masterKeyMalformed, .masterKeyUnreadable: status = .masterKeyUnusable
        case .cipherDirNotEmpty, .cipherDirUnusable: status = .cipherDirUnusable
        case .engine(let engineError):
            self.init(engineError)
            return
        case .kdfFailed, .configUnwritable, .masterKeyUnwritable: status = .internalError
        }
        self.init(status, error.description)
    }

    init(_ error: EngineError) {
        switch error {
        case .unavailable: self.init(.engineUnavailable, error.description)
        case .emulatorUnavailable: self.init(.emulatorUnavailable, error.description)
        default: self.init(.internalError, error.description)
        }
    }
}

extension ParsableCommand {
    /// Runs `body`, turning a failure into its message on stderr and its
    /// documented exit status.
    func reportingFailures(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let failure as CommandFailure {
            printError("klfs: \(failure.message)")
            throw failure.status.code
        } catch let error as EngineError {
            let failure = CommandFailure(error)
            printError("klfs: \(failure.message)")
            throw failure.status.code
        } catch let error as VolumeError {
            let failure = CommandFailure(error)
            printError("klfs: \(failure.message)")
            throw failure.status.code
        }
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
