import KLEngine

extension LUKS2Keyslot {
    /// The key this keyslot holds under `passphrase`, not yet checked
    /// against a digest (a wrong passphrase gives a wrong key): the KDF
    /// gives the area key, which decrypts the area, whose stripes merge
    /// into the key. The area key and the decrypted stripes die here,
    /// wiped; the candidate goes to the caller. Only for a keyslot that
    /// ``LUKS2Metadata/requireSupported()`` accepted.
    func candidateKey(passphrase: SecretBytes, in file: LUKS2ImageFile) throws(LUKS2Error) -> SecretBytes {
        guard let kdf, let area, let areaKeySize = area.keySize, let af = antiForensic else {
            throw .unsupportedKeyslot(id: String(id), reason: "incomplete")
        }
        let size = LUKS2AFSplitter.splitSize(keySize: keySize, stripes: af.stripes)
        var encrypted = try file.read(count: size, at: Int(area.offset))
        guard encrypted.count == size else { throw .unsupportedKeyslot(id: String(id), reason: "area beyond the end of the image") }
        let areaKey = try kdf.deriveKey(passphrase: passphrase, size: areaKeySize)
        // The area key and the decrypted stripes die with this call.
        defer { areaKey.wipe() }
        let material = try secretCall { () throws(EngineError) in try SecretBytes(count: size) }
        defer { material.wipe() }
        try encrypted.withBytes { (input) throws(LUKS2Error) in
            try material.withUnsafeMutableBytes { (output) throws(LUKS2Error) in
                try LUKS2KeyslotCipher.crypt(input, into: output, key: areaKey, encrypt: false)
            }
        }
        encrypted.removeAll()
        return try LUKS2AFSplitter.merge(material, keySize: keySize, stripes: af.stripes, hash: LUKS2Hash(named: af.hash))
    }
}
