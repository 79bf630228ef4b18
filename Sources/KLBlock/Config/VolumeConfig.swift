/// The contents of klfs.conf: everything needed to unlock a volume, and
/// nothing secret (the master key is only present AEAD-wrapped).
/// docs/CONFIG.md describes each field.
public struct VolumeConfig: Sendable, Equatable {
    /// What `klfs init` writes: version 2 (docs/FORMAT.md: encrypted sizes,
    /// authenticated file headers, encrypted xattrs; docs/CONFIG.md: a
    /// check value that authenticates every field).
    public static let currentVersion = 2
    /// Every version this build mounts. Version 1 volumes keep version 1
    /// (and its formats) until `klfs upgrade` converts them.
    public static let supportedVersions = 1...2
    public static let fileName = "klfs.conf"
    /// Feature flags this build understands. A format change that older
    /// builds must not misread adds one.
    public static let knownFeatureFlags: Set<String> = [encryptedNamesFlag, upgradeInProgressFlag]
    /// Names and symlink targets in the cipher dir are encrypted
    /// (FORMAT.md, "Names"). Volumes without it, made by `init
    /// --plaintext-names` or before names were encrypted, store them as given.
    public static let encryptedNamesFlag = "encrypted-names"
    /// `klfs upgrade` has begun converting a version 1 volume and not
    /// finished: its files are a mix of version 1 and version 2, so only
    /// `klfs upgrade` may unlock it (docs/CONFIG.md, "Upgrading a version 1
    /// volume").
    public static let upgradeInProgressFlag = "upgrade-in-progress"

    public let version: Int
    public internal(set) var kdf: PasswordKDF
    public internal(set) var masterKey: WrappedMasterKey
    public let sectorSize: SectorSize
    public let featureFlags: [String]

    public var encryptsNames: Bool { featureFlags.contains(Self.encryptedNamesFlag) }

    public var isUpgrading: Bool { featureFlags.contains(Self.upgradeInProgressFlag) }

    /// The flags this build does not understand, in file order.
    public var unknownFeatureFlags: [String] {
        featureFlags.filter { !Self.knownFeatureFlags.contains($0) }
    }

    /// What must hold before a passphrase or master key is tried: flags
    /// known and KDF parameters within the floor and the cap. (The version
    /// is checked while parsing: other versions may not even parse.) A
    /// volume in the middle of an upgrade unlocks only for the upgrade.
    func checkUnlockable(forUpgrade: Bool = false) throws(VolumeError) {
        let unknown = unknownFeatureFlags
        guard unknown.isEmpty else { throw .unknownFeatureFlags(unknown) }
        guard forUpgrade || !isUpgrading else { throw .upgradeInterrupted }
        try kdf.cost.check()
    }
}

/// How the passphrase becomes the key-encryption key.
public struct PasswordKDF: Sendable, Equatable {
    /// libsodium's crypto_pwhash_ALG_ARGON2ID13.
    public static let algorithmName = "argon2id13"
    public static let saltSize = 16

    public let cost: Argon2idCost
    public let salt: [UInt8]
}

/// The 512-bit XTS master key (K1 || K2) sealed under the key-encryption key.
public struct WrappedMasterKey: Sendable, Equatable {
    /// libsodium's crypto_aead_xchacha20poly1305_ietf.
    public static let algorithmName = "xchacha20poly1305-ietf"
    public static let nonceSize = 24
    public static let masterKeySize = 64
    /// The 64-byte key and the 16-byte Poly1305 tag.
    public static let ciphertextSize = masterKeySize + 16
    public static let checkSize = 16

    public let nonce: [UInt8]
    public let ciphertext: [UInt8]
    /// A keyed BLAKE2b under the master key (``VolumeConfig/checkValue(of:)``),
    /// so that `mount --masterkey` can tell a mistyped key from the right
    /// one and, from version 2 on, an altered klfs.conf from the real one.
    public internal(set) var check: [UInt8]
}
