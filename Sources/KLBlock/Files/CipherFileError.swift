import Glibc
import KLEngine

/// Why a ``CipherFile`` operation failed. The FUSE layer answers the request
/// with ``errno``; a corrupt file fails alone, the rest of the volume works on.
public enum CipherFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call on the backing file failed.
    case system(call: String, errno: Int32)
    /// The engine refused to encrypt or decrypt (a rejected Key Locker
    /// handle, say).
    case crypto(EngineError)
    /// The backing file is not a valid klfs file.
    case corrupt(CipherFileCorruption)
    /// The write or truncate would make the file larger than the format
    /// allows (``CipherFileLayout/maximumSize(sectorSize:)``).
    case fileTooLarge(requested: Int, maximum: Int)
    case negativeOffset(Int)

    /// What the filesystem returns to the caller.
    public var errno: Int32 {
        switch self {
        case .system(_, let code): return code
        case .crypto, .corrupt: return EIO
        case .fileTooLarge: return EFBIG
        case .negativeOffset: return EINVAL
        }
    }

    public var description: String {
        switch self {
        case .system(let call, let code):
            return "\(call): \(String(cString: strerror(code)))"
        case .crypto(let error):
            return "encryption failed: \(error)"
        case .corrupt(let corruption):
            return "not a valid klfs file: \(corruption)"
        case .fileTooLarge(let requested, let maximum):
            return "file size \(requested) exceeds the maximum of \(maximum) bytes"
        case .negativeOffset(let offset):
            return "negative file offset \(offset)"
        }
    }
}

/// What is wrong with a backing file's header (docs/FORMAT.md, "Validity").
public enum CipherFileCorruption: Error, Equatable, Sendable, CustomStringConvertible {
    /// The backing file holds fewer bytes than a header (32 on a version 1
    /// volume, 64 on version 2) but not none. (Zero bytes is a valid empty
    /// file whose header was never written.)
    case truncatedHeader(length: Int, headerLength: Int)
    case badMagic
    case unknownVersion(UInt16)
    /// A header of the other version this build knows: a volume reads only
    /// its own, so a version 2 file cannot be downgraded to version 1.
    case versionMismatch(file: UInt16, volume: UInt16)
    /// The sector size byte is not log2 of 512, 1024, 2048 or 4096.
    case invalidSectorSize(log2: UInt8)
    /// The file was written with another sector size than the volume's.
    case sectorSizeMismatch(file: Int, volume: Int)
    /// Bytes 11-15 are not zero.
    case reservedBytesSet
    /// The size field is larger than any file of this sector size can be.
    case sizeOutOfRange(UInt64)
    /// The size needs sectors that the backing file does not reach.
    case sizeBeyondData(size: Int, requiredLength: Int, backingLength: Int)
    /// A version 2 sealed record that does not open to this header under
    /// this volume's header key: an edited byte, or a file ID or record
    /// from another file or volume.
    case notAuthentic

    public var description: String {
        switch self {
        case .truncatedHeader(let length, let headerLength):
            return "header truncated to \(length) of \(headerLength) bytes"
        case .badMagic:
            return "bad magic"
        case .unknownVersion(let version):
            return "unknown file format version \(version)"
        case .versionMismatch(let file, let volume):
            return "version \(file) header on a version \(volume) volume"
        case .invalidSectorSize(let log2):
            return "invalid sector size 2^\(log2)"
        case .sectorSizeMismatch(let file, let volume):
            return "file sector size \(file) differs from the volume's \(volume)"
        case .reservedBytesSet:
            return "reserved header bytes are not zero"
        case .sizeOutOfRange(let size):
            return "size \(size) is beyond the format's limit"
        case .sizeBeyondData(let size, let required, let length):
            return "size \(size) needs a backing file of at least \(required) bytes, it has \(length)"
        case .notAuthentic:
            return "header does not authenticate (edited, or taken from another file or volume)"
        }
    }
}
