import KLEngine

extension VolumeConfig {
    /// A new volume's config with `masterKey` sealed under `passphrase`.
    static func sealing(_ masterKey: SecretBytes, passphrase: SecretBytes, kdf: PasswordKDF,
                        sectorSize: SectorSize, featureFlags: [String]) throws(VolumeError) -> VolumeConfig {
        // The nonce, ciphertext and check are made by rewrapped; these
        // placeholders never influence them.
        let unsealed = VolumeConfig(
            version: currentVersion, kdf: kdf, masterKey: WrappedMasterKey(nonce: [], ciphertext: [], check: []),
            sectorSize: sectorSize, featureFlags: featureFlags)
        return try unsealed.rewrapped(masterKey, passphrase: passphrase, kdf: kdf)
    }

    /// This config with `masterKey` sealed afresh under `passphrase`
    /// through `kdf` (a new salt and nonce) and its check value made anew;
    /// every other field is kept.
    func rewrapped(_ masterKey: SecretBytes, passphrase: SecretBytes, kdf: PasswordKDF) throws(VolumeError) -> VolumeConfig {
        var config = self
        config.kdf = kdf
        let kek = try kdf.deriveKey(from: passphrase)
        // The new KEK dies here, once the master key is sealed.
        defer { kek.wipe() }
        return config.resealed(masterKey, kek: kek)
    }

    /// This config with `masterKey` sealed under `kek` (the one its KDF
    /// gives) with a fresh nonce, and its check value made anew.
    func resealed(_ masterKey: SecretBytes, kek: SecretBytes) -> VolumeConfig {
        var config = self
        // Version 1's check is part of the associated data, so it comes
        // first; version 2's covers the sealed key, so it comes last.
        config.masterKey.check = version == 1 ? config.checkValue(of: masterKey) : []
        config.masterKey = WrappedMasterKey.seal(masterKey, kek: kek, check: config.masterKey.check,
                                                 associatedData: config.associatedData)
        if version >= 2 { config.masterKey.check = config.checkValue(of: masterKey) }
        return config
    }

    /// This volume's config as `version` with `featureFlags`, its key
    /// sealed under the same KDF, salt and `kek`: the passphrase is
    /// unchanged and is not needed again.
    func converted(to version: Int, featureFlags: [String], masterKey: SecretBytes,
                   kek: SecretBytes) -> VolumeConfig {
        VolumeConfig(version: version, kdf: kdf, masterKey: WrappedMasterKey(nonce: [], ciphertext: [], check: []),
                     sectorSize: sectorSize, featureFlags: featureFlags).resealed(masterKey, kek: kek)
    }

    /// The master key, owned by the caller; ``VolumeError/wrongPassphrase``
    /// when the AEAD refuses it, or a corrupt config when the check value
    /// does not match the key (the one field the AEAD leaves out).
    func unwrapMasterKey(passphrase: SecretBytes) throws(VolumeError) -> SecretBytes {
        let kek = try kdf.deriveKey(from: passphrase)
        // The KEK dies here, on every path.
        defer { kek.wipe() }
        return try unwrapMasterKey(kek: kek)
    }

    /// The master key sealed under `kek`, owned by the caller.
    func unwrapMasterKey(kek: SecretBytes) throws(VolumeError) -> SecretBytes {
        let key = try masterKey.open(kek: kek, associatedData: associatedData)
        guard matches(key) else {
            // The master key dies here when the config does not vouch for it.
            key.wipe()
            throw .configCorrupt("masterKey.check does not match the master key (klfs.conf was altered)")
        }
        return key
    }

    /// Reads and parses CIPHERDIR/klfs.conf.
    static func load(from cipherDir: String) throws(VolumeError) -> VolumeConfig {
        try VolumeConfig(json: ConfigFile.read(in: cipherDir))
    }
}
