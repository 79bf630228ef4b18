import KLEngine

/// Which header record a volume's backing files carry: its format version
/// (docs/FORMAT.md, "Header record", and "Version 1 volumes"). A volume
/// reads only its own version, so nobody can downgrade a file of a version
/// 2 volume to the unauthenticated version 1 record.
public enum HeaderFormat: Sendable {
    /// 32 bytes: a random 64-bit nonce N, which makes the file ID N * 2^64,
    /// and the plaintext size in clear.
    case version1
    /// 64 bytes: a random 128-bit file ID and the plaintext size sealed
    /// under the header key (``HeaderSeal``).
    case version2(headerKey: any BlockCipherKey)

    /// The versions this build knows: a known version that is not the
    /// volume's is a header from another kind of volume, not garbage.
    static let knownVersions: ClosedRange<UInt16> = 1...2

    public var version: UInt16 {
        switch self {
        case .version1: return 1
        case .version2: return 2
        }
    }

    /// The header record's length, and so an empty file's backing length.
    public var length: Int {
        switch self {
        case .version1: return 32
        case .version2: return 64
        }
    }

    /// The bytes a size change rewrites, alone: version 1's size field,
    /// version 2's sealed record. One pwrite inside the first 512 bytes of
    /// the file, so a crash never tears it.
    public var sizeRecord: Range<Int> {
        switch self {
        case .version1: return 24..<32
        case .version2: return 32..<64
        }
    }

    /// Whether truncating a file to zero gives it a fresh file ID, so that
    /// what it held and what it holds next never share an XTS tweak
    /// (docs/FORMAT.md, "A fresh file ID on truncation to zero").
    var renewsFileIDWhenEmptied: Bool {
        switch self {
        case .version1: return false
        case .version2: return true
        }
    }

    /// A random file ID for a new or emptied file, from getrandom(2) (Swift's
    /// SystemRandomNumberGenerator calls it on Linux).
    func freshFileID() -> UInt128 {
        var random = SystemRandomNumberGenerator()
        switch self {
        case .version1: return UInt128(random.next() as UInt64) << 64
        case .version2: return random.next()
        }
    }
}
