import CKLKernels
import Glibc

/// Why an engine call failed. Every case is a refusal: no output is produced.
public enum EngineError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A Key Locker handle was refused (ZF=1: tampered, made under another
    /// IWKey, or used against its restrictions).
    case handleRejected
    /// The engine cannot run on this CPU or kernel; the text says why.
    case unavailable(String)
    /// Data units are at least 16 bytes.
    case invalidDataUnitSize(Int)
    /// The input is not a whole number of data units, or the output is a
    /// different size.
    case invalidLength(input: Int, output: Int, dataUnitSize: Int)
    /// Neither memfd_secret nor locked memory could be had.
    case secretMemoryUnavailable(errno: Int32)
    /// getrandom failed.
    case randomUnavailable(errno: Int32)
    /// A raw key of the wrong size was handed to the engine.
    case invalidKeySize(Int)
    /// The emulator could not be installed (no CPUID faulting, say).
    case emulatorUnavailable(errno: Int32)
    /// The XTS kernel asked for cannot run on this CPU: `missing` names what
    /// it lacks, `runnable` the kernels it does run.
    case xtsKernelUnavailable(XTSKernel, missing: [String], runnable: [XTSKernel])
    /// An XTS kernel was asked of an engine that runs its own (keylocker).
    case xtsKernelNotSelectable(EngineKind)
    /// The software Key Locker holds no IWKey: it was wiped
    /// (``IWKeyEvent/wipe``, for a suspend) and nothing can be wrapped or
    /// unwrapped until ``IWKeyEvent/newKey`` gives it a new one.
    case iwkeyAbsent
    /// This engine cannot perform this IWKey event
    /// (``IWKeyLifecycle/supportedIWKeyEvents``).
    case iwkeyEventUnsupported(IWKeyEvent, EngineKind)
    /// A backup was refused (IA32_COPY_STATUS reports failure): the IWKey
    /// was loaded with NoBackup.
    case iwkeyBackupRefused
    /// A restore found no valid backup (IA32_IWKEYBACKUP_STATUS bit 0 clear).
    case iwkeyBackupInvalid
    /// The emulated CPU raised #GP; the text says why.
    case emulatedGeneralProtection(String)

    public var description: String {
        switch self {
        case .handleRejected:
            return "Key Locker handle rejected (tampered, foreign IWKey, or restricted)"
        case .unavailable(let why):
            return "engine unavailable: \(why)"
        case .invalidDataUnitSize(let size):
            return "data unit size \(size) is below 16 bytes"
        case .invalidLength(let input, let output, let unit):
            return "input of \(input) bytes and output of \(output) bytes do not fit data units of \(unit) bytes"
        case .secretMemoryUnavailable(let code):
            return "no secret memory: \(String(cString: strerror(code)))"
        case .randomUnavailable(let code):
            return "getrandom failed: \(String(cString: strerror(code)))"
        case .invalidKeySize(let size):
            return "raw key of \(size) bytes; AES-256 needs 32"
        case .emulatorUnavailable(let code):
            return "cannot install the Key Locker emulator: \(String(cString: strerror(code)))"
        case .xtsKernelUnavailable(let kernel, let missing, let runnable):
            let lacks = missing.isEmpty ? "" : ": it lacks \(missing.joined(separator: ", "))"
            let runs = runnable.isEmpty ? "none" : runnable.map(\.rawValue).joined(separator: ", ")
            return "XTS kernel \(kernel.rawValue) cannot run on this CPU\(lacks) (kernels it runs: \(runs))"
        case .xtsKernelNotSelectable(let kind):
            return "engine \(kind.rawValue) runs its own Key Locker kernel (\(XTSKernel.keyLockerKernelName), "
                + "keylocker_x86_64.S) and takes no XTS kernel; choose one for the keylocker-soft or aesni engine"
        case .iwkeyAbsent:
            return "the software Key Locker's IWKey is wiped (suspended); nothing can be wrapped or unwrapped"
        case .iwkeyEventUnsupported(let event, let engine):
            return "the \(engine.rawValue) engine cannot perform the IWKey event \(event.rawValue)"
        case .iwkeyBackupRefused:
            return "IWKey backup refused: the IWKey was loaded with NoBackup"
        case .iwkeyBackupInvalid:
            return "no valid IWKey backup to restore"
        case .emulatedGeneralProtection(let why):
            return "the emulated CPU raised #GP: \(why)"
        }
    }

    /// Maps a kernel status (klfs_common.h) to an error, nil for KLFS_OK.
    init?(status: Int32, input: Int = 0, output: Int = 0, dataUnitSize: Int = 0) {
        switch status {
        case Int32(KLFS_OK): return nil
        case Int32(KLFS_EHANDLE): self = .handleRejected
        case Int32(KLFS_EUNSUPPORTED): self = .unavailable("the CPU lacks an instruction this kernel needs")
        case Int32(KLFS_ENOMEM): self = .secretMemoryUnavailable(errno: errno)
        case Int32(KLFS_ENOKEY): self = .iwkeyAbsent
        default: self = .invalidLength(input: input, output: output, dataUnitSize: dataUnitSize)
        }
    }
}
