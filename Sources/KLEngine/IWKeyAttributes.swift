import CKLKernels

/// An IWKey's metadata, as LOADIWKEY is given it in EAX and as ENCODEKEY
/// reports it in its destination register (one layout: bit 0 NoBackup,
/// bits 4:1 KeySource). This is all software ever learns about the
/// wrapping key: it cannot read the key, nor ask which IWKey wrapped a
/// handle; only whether an unwrap works (ZF).
public struct IWKeyAttributes: Sendable, Hashable, CustomStringConvertible {
    /// IWKey.NoBackup: the IWKey may not be copied to platform storage, so
    /// nothing brings it back after S3 or S4.
    public var noBackup: Bool
    /// IWKey.KeySource: where the key came from.
    public var keySource: KeySource

    public init(noBackup: Bool, keySource: KeySource) {
        self.noBackup = noBackup
        self.keySource = keySource
    }

    /// From LOADIWKEY's EAX or ENCODEKEY's result; other bits are ignored.
    public init(rawValue: UInt32) {
        noBackup = rawValue & UInt32(KLFS_IWKEY_NO_BACKUP) != 0
        keySource = KeySource(rawValue: UInt8((rawValue & UInt32(KLFS_IWKEY_KEY_SOURCE_MASK))
                                              >> UInt32(KLFS_IWKEY_KEY_SOURCE_SHIFT)))
    }

    public var rawValue: UInt32 {
        (noBackup ? UInt32(KLFS_IWKEY_NO_BACKUP) : 0)
            | UInt32(keySource.rawValue) << UInt32(KLFS_IWKEY_KEY_SOURCE_SHIFT)
    }

    /// How the Linux Key Locker series loads the IWKey, and how an emulated
    /// machine boots: from the hardware random source, backups allowed (the
    /// only way a random IWKey survives S3 and S4).
    public static let hardwareRandomWithBackup = IWKeyAttributes(noBackup: false, keySource: .hardwareRandom)

    public var description: String {
        "KeySource \(keySource), " + (noBackup ? "NoBackup" : "backup allowed")
    }

    /// IWKey.KeySource, a 4-bit field; LOADIWKEY refuses (#GP) anything but
    /// the two values defined so far.
    public struct KeySource: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// 0: the key software put in LOADIWKEY's operands. The kernel knows
        /// it and could load it again; the software Key Locker draws its own
        /// from getrandom and reports this.
        public static let software = KeySource(rawValue: UInt8(KLFS_IWKEY_KEY_SOURCE_SOFTWARE))
        /// 1: the operands XORed with the CPU's hardware random source, so
        /// that not even the kernel knows the key: only a backup can bring
        /// it back once lost.
        public static let hardwareRandom = KeySource(rawValue: UInt8(KLFS_IWKEY_KEY_SOURCE_RANDOM))

        public var description: String {
            switch self {
            case .software: return "0 (software)"
            case .hardwareRandom: return "1 (hardware random)"
            default: return "\(rawValue) (reserved)"
            }
        }
    }
}
