import KLEngine

extension VolumeConfig {
    /// A new volume's config with `masterKey` sealed under `passphrase`.
    static func sealing(_ masterKey: SecretBytes, passphrase: SecretBytes, kdf: PasswordKDF,
                        sectorSize: SectorSize, featureFlags: [String]) throws(VolumeError) -> VolumeConfig {
        // The nonce and ciphertext are not part of the associated data, so
        // these placeholders never influence the seal that replaces them.
        let unsealed = VolumeConfig(
            version: currentVersion, kdf: kdf,
            masterKey: WrappedMasterKey(nonce: [], ciphertext: [], check: WrappedMasterKey.check(of: masterKey)),
            sectorSize: sectorSize, featureFlags: featureFlags)
        return try unsealed.rewrapped(masterKey, passphrase: passphrase, kdf: kdf)
    }

    /// This config with `masterKey` sealed afresh under `passphrase`
    /// through `kdf` (a new salt and nonce); every other field is kept.
    func rewrapped(_ masterKey: SecretBytes, passphrase: SecretBytes, kdf: PasswordKDF) throws(VolumeError) -> VolumeConfig {
        var config = self
        config.kdf = kdf
        let kek = try kdf.deriveKey(from: passphrase)
        // The new KEK dies here, once the master key is sealed.
        defer { kek.wipe() }
        config.masterKey = WrappedMasterKey.seal(masterKey, kek: kek, check: self.masterKey.check,
                                                 associatedData: config.associatedData)
        return config
    }

    /// The master key, owned by the caller, or ``VolumeError/wrongPassphrase``.
    func unwrapMasterKey(passphrase: SecretBytes) throws(VolumeError) -> SecretBytes {
        let kek = try kdf.deriveKey(from: passphrase)
        // The KEK dies here, on every path.
        defer { kek.wipe() }
        return try masterKey.open(kek: kek, associatedData: associatedData)
    }

    /// Reads and parses CIPHERDIR/klfs.conf.
    static func load(from cipherDir: String) throws(VolumeError) -> VolumeConfig {
        try VolumeConfig(json: ConfigFile.read(in: cipherDir))
    }
}
