/// The canonical byte encoding of every klfs.conf field except the AEAD's
/// own nonce and ciphertext (and, from version 2, the check value, a MAC of
/// this encoding, the nonce and the ciphertext); it is the associated data
/// of the master key wrap, so changing any field makes unlock fail. It depends only on the
/// field values, never on JSON formatting. docs/CONFIG.md gives the layout.
extension VolumeConfig {
    static func aadLabel(version: Int) -> [UInt8] { Array("klfs.conf-aad-v\(version)".utf8) }

    var associatedData: [UInt8] {
        var out = ConfigAADWriter()
        out.raw(Self.aadLabel(version: version))
        out.u32(UInt32(truncatingIfNeeded: version))
        out.bytes(Array(PasswordKDF.algorithmName.utf8))
        out.u64(kdf.cost.opslimit)
        out.u64(kdf.cost.memlimit)
        out.bytes(kdf.salt)
        out.bytes(Array(WrappedMasterKey.algorithmName.utf8))
        if version == 1 { out.bytes(masterKey.check) }
        out.u32(UInt32(sectorSize.bytes))
        out.u32(UInt32(featureFlags.count))
        for flag in featureFlags { out.bytes(Array(flag.utf8)) }
        return out.buffer
    }
}

/// Little-endian integers and length-prefixed byte strings.
struct ConfigAADWriter {
    private(set) var buffer: [UInt8] = []

    mutating func raw(_ bytes: [UInt8]) { buffer += bytes }

    mutating func u32(_ value: UInt32) { Swift.withUnsafeBytes(of: value.littleEndian) { buffer += $0 } }

    mutating func u64(_ value: UInt64) { Swift.withUnsafeBytes(of: value.littleEndian) { buffer += $0 } }

    /// A u32 length, then the bytes.
    mutating func bytes(_ bytes: [UInt8]) {
        u32(UInt32(bytes.count))
        buffer += bytes
    }
}
