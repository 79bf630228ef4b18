import CArgon2
import KLEngine

extension LUKS2KDFParameters {
    /// Limits on what a header may ask of the machine, so that a hostile
    /// image cannot make an unlock exhaust memory: cryptsetup's own maxima
    /// (4 GiB of Argon2 memory), and at most 16 lanes.
    static let maximumArgon2MemoryKiB = 4 * 1024 * 1024
    static let maximumArgon2Threads = 16

    /// The keyslot area key: `size` bytes from the passphrase, in secret
    /// memory owned by the caller.
    func deriveKey(passphrase: SecretBytes, size: Int) throws(LUKS2Error) -> SecretBytes {
        let key = try secretCall { () throws(EngineError) in try SecretBytes(count: size) }
        do {
            try passphrase.withUnsafeBytes { (password) throws(LUKS2Error) in
                try key.withUnsafeMutableBytes { (output) throws(LUKS2Error) in try derive(password, into: output) }
            }
        } catch {
            // A partly derived key dies here; on success the caller owns it.
            key.wipe()
            throw error
        }
        return key
    }

    private func derive(_ password: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(LUKS2Error) {
        switch self {
        case .pbkdf2(let hash, let iterations, let salt):
            try LUKS2Hash(named: hash).pbkdf2(password: password, salt: salt, iterations: iterations, into: output)
        case .argon2(let variant, let time, let memoryKiB, let threads, let salt):
            guard time >= 1, time <= Int(UInt32.max), memoryKiB <= Self.maximumArgon2MemoryKiB,
                  (1...Self.maximumArgon2Threads).contains(threads) else {
                throw .kdfFailed("\(variant.rawValue) time \(time), memory \(memoryKiB) KiB, \(threads) threads out of range")
            }
            // libargon2 frees (and clears) its memory blocks before returning.
            let status = argon2_hash(UInt32(time), UInt32(memoryKiB), UInt32(threads),
                                     password.baseAddress, password.count, salt, salt.count,
                                     output.baseAddress, output.count, nil, 0,
                                     variant == .argon2id ? Argon2_id : Argon2_i, ARGON2_VERSION_13.rawValue)
            guard status == ARGON2_OK.rawValue else {
                throw .kdfFailed("\(variant.rawValue): \(String(cString: argon2_error_message(status)))")
            }
        case .unknown(let type):
            throw .unsupportedKDF(type)
        }
    }
}
