import Foundation
import KLEngine

extension LUKS2Keyslot {
    /// Writes a new keyslot's area at `areaOffset` (split volume key,
    /// encrypted under the key `kdf` derives from `passphrase`), makes it
    /// durable, and returns the keyslot's JSON, which the caller puts into
    /// the next header version. Until that header is written the area is
    /// unreferenced, so a crash leaves the image as it was.
    static func create(volumeKey: SecretBytes, passphrase: SecretBytes, kdf: LUKS2KeyslotKDF,
                       areaOffset: Int, in file: LUKS2ImageFile) throws(LUKS2Error) -> LUKS2JSON {
        let parameters = kdf.parameters(salt: publicRandomBytes(LUKS2Layout.saltSize))
        let areaKey = try parameters.deriveKey(passphrase: passphrase, size: LUKS2Layout.areaKeySize)
        // The area key dies when the area is written.
        defer { areaKey.wipe() }
        let afHash = try LUKS2Hash(named: LUKS2Layout.afHash)
        // The split material is key material until encrypted: wiped here.
        let material = try LUKS2AFSplitter.split(volumeKey, stripes: LUKS2Layout.stripes, hash: afHash)
        defer { material.wipe() }
        var encrypted = [UInt8](repeating: 0, count: material.count)
        try material.withUnsafeBytes { (input) throws(LUKS2Error) in
            try encrypted.withMutableBytes { (output) throws(LUKS2Error) in
                try LUKS2KeyslotCipher.crypt(input, into: output, key: areaKey, encrypt: true)
            }
        }
        try file.write(encrypted, at: areaOffset)
        try file.sync()
        return json(keySize: volumeKey.count, kdf: parameters, areaOffset: areaOffset)
    }

    private static func json(keySize: Int, kdf: LUKS2KDFParameters, areaOffset: Int) -> LUKS2JSON {
        .object([
            "type": .string("luks2"),
            "key_size": .integer(Int64(keySize)),
            "af": .object(["type": .string("luks1"), "stripes": .integer(Int64(LUKS2Layout.stripes)),
                           "hash": .string(LUKS2Layout.afHash)]),
            "area": .object(["type": .string("raw"), "offset": .string(String(areaOffset)),
                             "size": .string(String(LUKS2Layout.keyslotAreaSize(keySize: keySize))),
                             "encryption": .string(LUKS2Metadata.supportedCipher),
                             "key_size": .integer(Int64(LUKS2Layout.areaKeySize))]),
            "kdf": kdf.json,
        ])
    }
}

extension LUKS2KDFParameters {
    var json: LUKS2JSON {
        switch self {
        case .pbkdf2(let hash, let iterations, let salt):
            return .object(["type": .string("pbkdf2"), "hash": .string(hash), "iterations": .integer(Int64(iterations)),
                            "salt": .string(base64(salt))])
        case .argon2(let variant, let time, let memoryKiB, let threads, let salt):
            return .object(["type": .string(variant.rawValue), "time": .integer(Int64(time)),
                            "memory": .integer(Int64(memoryKiB)), "cpus": .integer(Int64(threads)),
                            "salt": .string(base64(salt))])
        case .unknown(let type):
            return .object(["type": .string(type)])
        }
    }
}

func base64(_ bytes: [UInt8]) -> String {
    Data(bytes).base64EncodedString()
}
