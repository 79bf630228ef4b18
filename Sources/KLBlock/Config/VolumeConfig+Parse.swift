extension VolumeConfig {
    /// Parses the bytes of a klfs.conf: structure, types, encodings,
    /// sizes and the version (docs/CONFIG.md, "Reading rules"). It does
    /// not apply the unlock checks (flags, KDF floor and cap), which
    /// ``unknownFeatureFlags`` and ``Argon2idCost/check()`` expose; the
    /// fuzzer and fsck reach the parser through here.
    public static func parse(_ bytes: [UInt8]) throws(VolumeError) -> VolumeConfig {
        guard bytes.count <= ConfigFile.sizeLimit else {
            throw .configCorrupt("larger than \(ConfigFile.sizeLimit) bytes")
        }
        return try VolumeConfig(json: bytes)
    }
}
