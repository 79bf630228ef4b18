/// `klfs info`: the config without secrets (the salt and the wrapped key
/// are public, but there is no reason to print them either).
public struct VolumeInfo: Sendable, CustomStringConvertible {
    public let path: String
    public let config: VolumeConfig

    private var versionNote: String {
        if config.isUpgrading { return " (an upgrade from version 1 was interrupted: run `klfs upgrade` again)" }
        return config.version == 1
            ? " (sizes in clear and headers unauthenticated; `klfs upgrade` converts to \(VolumeConfig.currentVersion))"
            : " (sizes encrypted, headers authenticated, xattrs encrypted)"
    }

    public var lines: [String] {
        let cost = config.kdf.cost
        var kdf = "Argon2id (libsodium \(PasswordKDF.algorithmName)), opslimit \(cost.opslimit), "
            + "memlimit \(cost.memlimit / mebibyte) MiB"
        do { try cost.check() } catch { kdf += " -- unlock refuses: \(error)" }
        let unknown = config.unknownFeatureFlags
        let flags = config.featureFlags.isEmpty ? "none"
            : config.featureFlags.joined(separator: ", ") + (unknown.isEmpty ? "" : " (unknown: \(unknown.joined(separator: ", ")))")
        return [
            "Config:         \(path)",
            "Format version: \(config.version)" + versionNote,
            "Sector size:    \(config.sectorSize.bytes) bytes",
            "Cipher:         AES-256-XTS, 512-bit master key (K1 || K2)",
            "Key wrap:       \(WrappedMasterKey.algorithmName), config fields authenticated"
                + (config.version == 1 ? " (by the passphrase only)" : " (by the passphrase and the master key)"),
            "Password KDF:   \(kdf)",
            "Feature flags:  \(flags)",
        ]
    }

    public var description: String { lines.joined(separator: "\n") }
}
