import Glibc
import KLEngine

/// Why opening or serving an image failed. The CLI maps each case to an
/// exit code (docs/CLI.md); the FUSE layer answers a request with ``errno``.
public enum ImageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call on the image (or a keyfile) failed.
    case system(call: String, path: String, errno: Int32)
    case imageMissing(path: String)
    case imageNotRegularFile(path: String)
    /// `image format` on a file that holds data, without --force.
    case imageNotEmpty(path: String)
    case unsupportedSectorSize(Int)
    case unsupportedKeySize(bits: Int)
    /// A payload offset that is not a whole number of 512-byte sectors.
    case misalignedOffset(Int)
    case misalignedSize(Int, sectorSize: Int)
    /// The payload offset or fixed size reaches beyond the image.
    case payloadBeyondImage(end: Int, imageSize: Int)
    /// A --hash this build does not know (or libcrypto cannot run).
    case unsupportedHash(String)
    /// A --hash `name:N` whose N is not 1 to the key size.
    case invalidHashLength(String)
    /// `--hash plain` with a passphrase shorter than the key bytes it fills.
    case passphraseTooShort(needed: Int, available: Int)
    /// The keyfile holds fewer bytes than the key needs after its offset.
    case keyfileTooShort(path: String, needed: Int, available: Int)
    /// The passphrase could not be read (terminal, --passfile, --extpass).
    case passphrase(VolumeError)
    /// Reading, unlocking or changing a LUKS2 header failed.
    case luks2(LUKS2Error)
    /// The engine refused a key or a crypto call.
    case engine(EngineError)
    /// A discard or resize outside what the device allows.
    case outOfRange(offset: Int, length: Int, deviceSize: Int)
    /// A write that starts at or past the device's end (a block device
    /// answers ENOSPC there).
    case pastEnd(offset: Int, deviceSize: Int)
    /// A resize of a device whose size the layout fixes.
    case fixedSize(Int)
    /// At resume: the passphrase or keyfile gives another key than the one
    /// the mount opened with (``ImageKeyCheck``).
    case notTheOpenedKey

    /// What the filesystem returns to the caller.
    public var errno: Int32 {
        switch self {
        case .system(_, _, let code): return code
        case .outOfRange, .fixedSize, .misalignedSize: return EINVAL
        case .pastEnd: return ENOSPC
        case .engine(.iwkeyAbsent): return EKEYREVOKED
        default: return EIO
        }
    }

    public var description: String {
        switch self {
        case .system(let call, let path, let code):
            return "\(call) \(path): \(String(cString: strerror(code)))"
        case .imageMissing(let path): return "image \(path) does not exist"
        case .imageNotRegularFile(let path): return "image \(path) is not a regular file"
        case .imageNotEmpty(let path): return "image \(path) is not empty (--force overwrites it)"
        case .unsupportedSectorSize(let size):
            return "sector size \(size) is not supported (\(ImageLayout.sectorSizes.map(String.init).joined(separator: " or ")))"
        case .unsupportedKeySize(let bits): return "key size \(bits) bits is not supported (aes-xts-plain64 takes 512)"
        case .misalignedOffset(let offset): return "payload offset \(offset) is not a multiple of 512 bytes"
        case .misalignedSize(let size, let sectorSize):
            return "device size \(size) is not a positive multiple of the sector size \(sectorSize)"
        case .payloadBeyondImage(let end, let imageSize):
            return "the payload ends at byte \(end), beyond the image's \(imageSize) bytes"
        case .unsupportedHash(let name):
            return "hash '\(name)' is not supported (\((PlainHash.allCases.map(\.rawValue) + ["plain"]).joined(separator: ", ")))"
        case .invalidHashLength(let text):
            return "hash '\(text)': the length after ':' must be 1 to \(PlainKeyDerivation.keySize) bytes"
        case .passphraseTooShort(let needed, let available):
            return "--hash plain takes the key from the passphrase itself: it needs \(needed) bytes, the passphrase has \(available)"
        case .keyfileTooShort(let path, let needed, let available):
            return "keyfile \(path) holds \(available) bytes after its offset; the key needs \(needed)"
        case .passphrase(let error): return error.description
        case .luks2(let error): return error.description
        case .engine(let error): return error.description
        case .outOfRange(let offset, let length, let deviceSize):
            return "\(length) bytes at \(offset) reach outside the \(deviceSize)-byte device"
        case .pastEnd(let offset, let deviceSize):
            return "write at \(offset) is past the end of the \(deviceSize)-byte device"
        case .fixedSize(let size):
            return "the device's size is fixed at \(size) bytes by its layout"
        case .notTheOpenedKey:
            return "wrong passphrase or keyfile: it gives another key than the one the image was opened with"
        }
    }
}
