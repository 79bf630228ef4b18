import KLEngine

extension LUKS2Digest {
    /// Whether `key` reproduces this digest: PBKDF2 over the key with the
    /// digest's hash, salt and iterations, compared in constant time.
    func matches(_ key: SecretBytes) throws(LUKS2Error) -> Bool {
        let computed = try Self.compute(key: key, hash: LUKS2Hash(named: hash), salt: salt, iterations: iterations,
                                        size: value.count)
        var difference: UInt8 = 0
        for (a, b) in zip(computed, value) { difference |= a ^ b }
        return difference == 0
    }

    /// The digest value: public (it is stored in the header), so a plain array.
    static func compute(key: SecretBytes, hash: LUKS2Hash, salt: [UInt8], iterations: Int,
                        size: Int) throws(LUKS2Error) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: size)
        try key.withUnsafeBytes { (password) throws(LUKS2Error) in
            try output.withMutableBytes { (out) throws(LUKS2Error) in
                try hash.pbkdf2(password: password, salt: salt, iterations: iterations, into: out)
            }
        }
        return output
    }
}
