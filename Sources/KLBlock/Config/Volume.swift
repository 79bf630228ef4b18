import Glibc
import KLEngine

/// The volume operations behind `klfs init`, `mount`, `passwd` and `info`.
///
/// Every function that takes a passphrase or a master key owns it: it is
/// wiped before the function returns, on success and on failure alike.
public enum Volume {
    /// Creates klfs.conf in an existing, empty `cipherDir` with a fresh
    /// random master key (and, with encrypted names, the top directory's
    /// IV). Returns the config and the master key's text for init to print
    /// once.
    public static func create(cipherDir: String, passphrase: SecretBytes, sectorSize: SectorSize = .default,
                              kdf: Argon2idCost = .default, flags: [String] = []) throws(VolumeError) -> VolumeCreation {
        // The passphrase dies here, on every path.
        defer { passphrase.wipe() }
        try kdf.check()
        let unknown = flags.filter { !VolumeConfig.knownFeatureFlags.contains($0) }
        guard unknown.isEmpty else { throw .unknownFeatureFlags(unknown) }
        try CipherDirectory.requireEmpty(cipherDir)
        let masterKey = try engineCall { () throws(EngineError) in
            try SecretBytes.random(count: WrappedMasterKey.masterKeySize)
        }
        // The master key dies here: only its wrapped form and the text the
        // caller prints outlive this function.
        defer { masterKey.wipe() }
        let config = try VolumeConfig.sealing(masterKey, passphrase: passphrase, kdf: .make(cost: kdf),
                                              sectorSize: sectorSize, featureFlags: flags)
        let text = try MasterKeyText.format(masterKey)
        do {
            try ConfigFile.write(config.jsonBytes(), in: cipherDir, replacing: false)
            if config.encryptsNames { try writeRootIV(in: cipherDir) }
        } catch {
            text.wipe()
            throw error
        }
        return VolumeCreation(config: config, masterKeyText: text)
    }

    /// Passphrase -> Argon2id -> KEK -> master key -> the engine's key.
    public static func unlock(cipherDir: String, passphrase: SecretBytes,
                              engine: any XTSEngine) throws(VolumeError) -> UnlockedVolume {
        // The passphrase dies here if loading the config fails; otherwise
        // right after the KDF has read it, below.
        defer { passphrase.wipe() }
        let config = try loadUnlockable(cipherDir)
        let masterKey = try config.unwrapMasterKey(passphrase: passphrase)
        passphrase.wipe()
        return try makeUnlocked(config, masterKey: masterKey, engine: engine)
    }

    /// Recovery with the master key from init's paper backup.
    public static func unlock(cipherDir: String, masterKey: SecretBytes,
                              engine: any XTSEngine) throws(VolumeError) -> UnlockedVolume {
        // On failure the master key dies here; on success in makeUnlocked.
        defer { masterKey.wipe() }
        let config = try loadUnlockable(cipherDir)
        guard config.matches(masterKey) else {
            throw .wrongMasterKey
        }
        return try makeUnlocked(config, masterKey: masterKey, engine: engine)
    }

    /// Re-wraps the master key under `new` with a fresh salt and nonce (and
    /// `kdf` when given, else the current parameters); the data is not
    /// touched and the file is replaced atomically.
    @discardableResult
    public static func changePassphrase(cipherDir: String, old: SecretBytes, new: SecretBytes,
                                        kdf: Argon2idCost? = nil) throws(VolumeError) -> VolumeConfig {
        // Both passphrases die here, on every path.
        defer {
            old.wipe()
            new.wipe()
        }
        let config = try loadUnlockable(cipherDir)
        let cost = kdf ?? config.kdf.cost
        try cost.check()
        let masterKey = try config.unwrapMasterKey(passphrase: old)
        // The master key dies here, once re-wrapped.
        defer { masterKey.wipe() }
        let updated = try config.rewrapped(masterKey, passphrase: new, kdf: .make(cost: cost))
        try ConfigFile.write(updated.jsonBytes(), in: cipherDir, replacing: true)
        return updated
    }

    /// The config, for `klfs info`. Reads no secret and needs none; a
    /// config with unknown flags or weak parameters is still described.
    public static func info(cipherDir: String) throws(VolumeError) -> VolumeInfo {
        VolumeInfo(path: ConfigFile.path(in: cipherDir), config: try VolumeConfig.load(from: cipherDir))
    }

    private static func writeRootIV(in cipherDir: String) throws(VolumeError) {
        let fd = open(cipherDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .cipherDirUnusable(path: cipherDir, errno: errno) }
        defer { close(fd) }
        let status = DirectoryIV.write(DirectoryIV.random(), in: fd)
        guard status == 0 else { throw .cipherDirUnusable(path: cipherDir, errno: status) }
    }

    private static func loadUnlockable(_ cipherDir: String) throws(VolumeError) -> VolumeConfig {
        let config = try VolumeConfig.load(from: cipherDir)
        try config.checkUnlockable()
        return config
    }

    /// Hands K1 and K2 to the engine as two fresh secrets (which makeKey
    /// wipes), and the keys derived from the master key the volume uses
    /// (DerivedKey), and wipes the master key.
    static func makeUnlocked(_ config: VolumeConfig, masterKey: SecretBytes,
                                     engine: any XTSEngine) throws(VolumeError) -> UnlockedVolume {
        // The master key dies here, on every path: from now on only the
        // engine's form of K1 and K2 exists.
        defer { masterKey.wipe() }
        let key = try engineCall { () throws(EngineError) -> any XTSKey in
            // K1 and K2 die inside makeKey(splitting:).
            try engine.makeKey(splitting: masterKey)
        }
        let namesKey = try engineCall { () throws(EngineError) -> (any BlockCipherKey)? in
            config.encryptsNames ? try wrap(.names, of: masterKey, with: engine) : nil
        }
        let headerKey = try engineCall { () throws(EngineError) -> (any BlockCipherKey)? in
            config.version >= 2 ? try wrap(.headers, of: masterKey, with: engine) : nil
        }
        let extendedAttributeKey = try engineCall { () throws(EngineError) -> (any BlockCipherKey)? in
            config.version >= 2 ? try wrap(.extendedAttributeNames, of: masterKey, with: engine) : nil
        }
        return UnlockedVolume(config: config, key: key, namesKey: namesKey, headerKey: headerKey,
                              extendedAttributeKey: extendedAttributeKey)
    }

    /// A key derived from the master key, in the engine's form; the raw
    /// derived key dies inside makeBlockKey.
    private static func wrap(_ derived: DerivedKey, of masterKey: SecretBytes,
                             with engine: any XTSEngine) throws(EngineError) -> any BlockCipherKey {
        try engine.makeBlockKey(try derived.derive(from: masterKey))
    }
}

/// What init gets back.
public struct VolumeCreation: Sendable {
    public let config: VolumeConfig
    /// The master key as ``MasterKeyText`` prints it, for init to write to
    /// stdout once; the caller wipes it right after.
    public let masterKeyText: SecretBytes
}

/// An unlocked volume: its config and the engine's keys. No raw key
/// material is left anywhere.
public struct UnlockedVolume: Sendable {
    public let config: VolumeConfig
    public let key: any XTSKey
    /// The key names are encrypted with, or nil on a volume with plaintext
    /// names.
    public let namesKey: (any BlockCipherKey)?
    /// The names key's cipher, or nil on a volume with plaintext names.
    public let names: NameCipher?
    /// The key that seals file headers; nil on a version 1 volume.
    public let headerKey: (any BlockCipherKey)?
    /// The key that encrypts extended attribute names; nil on a version 1
    /// volume.
    public let extendedAttributeKey: (any BlockCipherKey)?
    public var sectorSize: SectorSize { config.sectorSize }

    /// A volume whose keys are `key`, `namesKey`, `headerKey` and
    /// `extendedAttributeKey` (the mount puts keys of its own in front of
    /// the engine's, so that it can replace them on resume).
    public init(config: VolumeConfig, key: any XTSKey, namesKey: (any BlockCipherKey)?,
                headerKey: (any BlockCipherKey)?, extendedAttributeKey: (any BlockCipherKey)?) {
        self.config = config
        self.key = key
        self.namesKey = namesKey
        names = namesKey.map { NameCipher(key: $0) }
        self.headerKey = headerKey
        self.extendedAttributeKey = extendedAttributeKey
    }

    /// How the volume's backing files are encoded: its sector size, K1 || K2,
    /// and the header record of its format version.
    public var fileFormat: CipherFileFormat {
        CipherFileFormat(sectorSize: sectorSize, key: key,
                         headers: headerKey.map { HeaderFormat.version2(headerKey: $0) } ?? .version1)
    }
}
