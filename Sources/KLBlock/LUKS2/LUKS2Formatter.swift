import Foundation
import Glibc
import KLEngine

/// Makes new LUKS2 images in cryptsetup's default layout (``LUKS2Layout``):
/// one aes-xts-plain64 data segment of 512-bit key, one keyslot, one
/// pbkdf2-sha256 digest.
public struct LUKS2Formatter: Sendable {
    /// The digest's PBKDF2-SHA256 iterations. cryptsetup benchmarks it to
    /// 1/8 of the keyslot time (at least 1000); klfs fixes it, since it
    /// only guards a 512-bit random key, which no guessing reaches.
    public static let defaultDigestIterations = 100_000

    public var sectorSize: Int = 4096
    public var kdf: LUKS2KeyslotKDF = .defaultArgon2id()
    public var digestIterations: Int = Self.defaultDigestIterations
    public var label: String = ""

    public init(sectorSize: Int = 4096, kdf: LUKS2KeyslotKDF = .defaultArgon2id(),
                digestIterations: Int = Self.defaultDigestIterations, label: String = "") {
        self.sectorSize = sectorSize
        self.kdf = kdf
        self.digestIterations = digestIterations
        self.label = label
    }

    /// Creates `path` (refusing an existing file): headers, keyslot 0 for
    /// `passphrase`, and `dataSize` bytes of data segment after the 16 MiB
    /// of metadata (left sparse; not encrypted zeros, as cryptsetup leaves
    /// it). The volume key is `volumeKey` if given, else random; it is
    /// returned in secret memory for the caller to wrap and wipe. A failed
    /// format removes the file.
    public func format(path: String, dataSize: Int, passphrase: SecretBytes,
                       volumeKey given: SecretBytes? = nil) throws(LUKS2Error) -> (header: LUKS2Header, volumeKey: SecretBytes) {
        guard LUKS2Metadata.supportedSectorSizes.contains(sectorSize) else { throw .unsupportedSectorSize(sectorSize) }
        guard dataSize >= 0, dataSize % sectorSize == 0 else {
            throw .metadataInvalid("data size \(dataSize) is not a multiple of the \(sectorSize)-byte sector")
        }
        let volumeKey: SecretBytes
        if let given { volumeKey = given } else {
            volumeKey = try secretCall { () throws(EngineError) in try SecretBytes.random(count: LUKS2Metadata.volumeKeySize) }
        }
        guard volumeKey.count == LUKS2Metadata.volumeKeySize else { throw .unsupportedKeySize(bits: volumeKey.count * 8) }
        let file = try LUKS2ImageFile.create(path: path)
        do {
            try file.setSize(LUKS2Layout.dataOffset + dataSize)
            let keyslot = try LUKS2Keyslot.create(volumeKey: volumeKey, passphrase: passphrase, kdf: kdf,
                                                  areaOffset: LUKS2Layout.keyslotsOffset, in: file)
            let json = try metadata(keyslot: keyslot, volumeKey: volumeKey)
            let identity = LUKS2Header.Identity(headerSize: LUKS2Layout.headerSize, uuid: UUID().uuidString.lowercased(), label: label)
            let header = try LUKS2Header.write(json: json, identity: identity, sequenceID: 1, to: file)
            return (header, volumeKey)
        } catch {
            unlink(path)
            // A volume key made here dies with the failed format; a given one is the caller's.
            if given == nil { volumeKey.wipe() }
            throw error
        }
    }

    private func metadata(keyslot: LUKS2JSON, volumeKey: SecretBytes) throws(LUKS2Error) -> LUKS2JSON {
        let salt = publicRandomBytes(LUKS2Layout.saltSize)
        let digest = try LUKS2Digest.compute(key: volumeKey, hash: .sha256, salt: salt, iterations: digestIterations,
                                             size: LUKS2Hash.sha256.digestSize)
        return .object([
            "keyslots": .object(["0": keyslot]),
            "tokens": .object([:]),
            "segments": .object(["0": .object([
                "type": .string("crypt"),
                "offset": .string(String(LUKS2Layout.dataOffset)),
                "size": .string("dynamic"),
                "iv_tweak": .string("0"),
                "encryption": .string(LUKS2Metadata.supportedCipher),
                "sector_size": .integer(Int64(sectorSize)),
            ])]),
            "digests": .object(["0": .object([
                "type": .string("pbkdf2"),
                "keyslots": .array([.string("0")]),
                "segments": .array([.string("0")]),
                "hash": .string("sha256"),
                "iterations": .integer(Int64(digestIterations)),
                "salt": .string(base64(salt)),
                "digest": .string(base64(digest)),
            ])]),
            "config": .object([
                "json_size": .string(String(LUKS2Layout.headerSize - LUKS2Limits.binaryHeaderSize)),
                "keyslots_size": .string(String(LUKS2Layout.keyslotsSize)),
            ]),
        ])
    }
}
