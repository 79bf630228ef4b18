import COpenSSL
import KLEngine
import Testing
import KLTestSupport

/// The single-block (ECB) key every engine makes for name encryption.
@Suite struct BlockCipherKeyTests {
    @Test func everyEngineMatchesOpenSSLECBInBothDirections() throws {
        let seed = UInt64.random(in: .min ... .max)
        var generator = SeededGenerator(seed: seed)
        for engine in try allEngines() {
            for round in 0..<24 {
                let keyBytes = randomBytes(32, using: &generator)
                let key = try makeBlockKey(engine, keyBytes)
                #expect(key.engine == engine.kind)
                let blocks = round < 17 ? round + 1 : Int.random(in: 1...64, using: &generator)
                let plaintext = randomBytes(16 * blocks, using: &generator)
                let context = "seed \(seed) engine \(engine.kind) round \(round) blocks \(blocks)"

                let expected = openSSLECB(encrypt: true, key: keyBytes, plaintext)
                var buffer = plaintext
                try buffer.withUnsafeMutableBytes { try key.encryptBlocks($0) }
                #expect(buffer == expected, "\(context)")
                try buffer.withUnsafeMutableBytes { try key.decryptBlocks($0) }
                #expect(buffer == plaintext, "\(context)")
                #expect(openSSLECB(encrypt: false, key: keyBytes, expected) == plaintext, "\(context)")
            }
        }
    }

    @Test func partialBlocksAreRefused() throws {
        for engine in try allEngines() {
            let key = try makeBlockKey(engine, [UInt8](repeating: 7, count: 32))
            var buffer = [UInt8](repeating: 0, count: 20)
            #expect(throws: EngineError.invalidLength(input: 20, output: 20, dataUnitSize: 16)) {
                try buffer.withUnsafeMutableBytes { try key.encryptBlocks($0) }
            }
        }
    }

    /// A handle altered in memory fails authentication: an error, and no
    /// output, never blocks under some other key.
    @Test func aTamperedHandleIsRefusedWithNoOutput() throws {
        for engine in try allEngines() {
            guard let locker = engine as? any KeyLocker else { continue }
            let key = try tamperedBlockKey(locker, flipping: 1, ofByte: 40)
            var buffer = [UInt8](repeating: 0x5A, count: 48)
            #expect(throws: EngineError.handleRejected) {
                try buffer.withUnsafeMutableBytes { try key.encryptBlocks($0) }
            }
            #expect(buffer == [UInt8](repeating: 0, count: 48), "\(engine.kind)")
        }
    }

    // MARK: - Scopes

    /// Several passes in one scope, in both directions and of different
    /// lengths, give exactly OpenSSL's ECB: the key made ready once serves
    /// every call.
    @Test func severalCallsInOneScopeMatchOpenSSLECB() throws {
        let seed = UInt64.random(in: .min ... .max)
        var generator = SeededGenerator(seed: seed)
        for engine in try allEngines() {
            let keyBytes = randomBytes(32, using: &generator)
            let key = try makeBlockKey(engine, keyBytes)
            let inputs = [1, 3, 1, 17].map { randomBytes(16 * $0, using: &generator) }
            var encrypted = inputs, decrypted = inputs
            try key.withCipher(for: [.encrypt, .decrypt]) { cipher throws(EngineError) in
                for index in inputs.indices {
                    try cipher.crypt(.encrypt, &encrypted[index])
                    try cipher.crypt(.decrypt, &decrypted[index])
                }
            }
            for index in inputs.indices {
                let context = "seed \(seed) engine \(engine.kind) input \(index)"
                #expect(encrypted[index] == openSSLECB(encrypt: true, key: keyBytes, inputs[index]), "\(context)")
                #expect(decrypted[index] == openSSLECB(encrypt: false, key: keyBytes, inputs[index]), "\(context)")
            }
        }
    }

    /// A scope asked for a direction the handle forbids is refused with no
    /// output (the software model refuses to open it, the instruction
    /// refuses the block); the direction the handle allows still works.
    @Test func aScopeForAForbiddenDirectionIsRefused() throws {
        for engine in try allEngines() {
            guard let locker = engine as? any KeyLocker else { continue }
            let keyBytes = [UInt8](repeating: 9, count: 32)
            let plaintext = [UInt8](repeating: 0x5A, count: 32)
            for (restriction, forbidden, allowed) in [(HandleRestrictions.noEncrypt, CryptDirection.encrypt,
                                                       CryptDirection.decrypt),
                                                      (.noDecrypt, .decrypt, .encrypt)] {
                let key = locker.blockKey(handle: try locker.wrap(try secret(keyBytes), restrictions: restriction))
                let context = "\(engine.kind) \(restriction.rawValue)"
                for directions in [CryptDirections(forbidden), [.encrypt, .decrypt]] {
                    var buffer = plaintext
                    #expect(throws: EngineError.handleRejected, "\(context)") {
                        try key.withCipher(for: directions) { cipher throws(EngineError) in
                            try cipher.crypt(forbidden, &buffer)
                        }
                    }
                    #expect(buffer == plaintext || buffer.allSatisfy { $0 == 0 }, "\(context)")
                }
                var buffer = plaintext
                try key.withCipher(for: CryptDirections(allowed)) { cipher throws(EngineError) in
                    try cipher.crypt(allowed, &buffer)
                }
                #expect(buffer == openSSLECB(encrypt: allowed == .encrypt, key: keyBytes, plaintext), "\(context)")
            }
        }
    }

    /// A tampered handle fails the scope before its body can run a block:
    /// `handleRejected`, and the buffer keeps no output.
    @Test func aScopeOverATamperedHandleIsRefused() throws {
        for engine in try allEngines() {
            guard let locker = engine as? any KeyLocker else { continue }
            let key = try tamperedBlockKey(locker, flipping: 0x80, ofByte: 20)
            var buffer = [UInt8](repeating: 0x5A, count: 48)
            #expect(throws: EngineError.handleRejected, "\(engine.kind)") {
                try key.withCipher(for: [.encrypt, .decrypt]) { cipher throws(EngineError) in
                    try cipher.crypt(.encrypt, &buffer)
                }
            }
            #expect(buffer == [UInt8](repeating: 0x5A, count: 48) || buffer.allSatisfy { $0 == 0 },
                    "\(engine.kind)")
        }
    }

    /// On the real Key Locker a scope unwraps nothing: every block is still
    /// one AESENC256KL or AESDEC256KL through the handle (counted by the
    /// emulator, which runs the real instructions).
    @Test func aKeyLockerScopeRunsOneInstructionPerBlock() throws {
        try KeyLockerEmulator.install()
        let key = try makeBlockKey(try KeyLockerEngine(features: .detect()), [UInt8](repeating: 1, count: 32))
        var buffer = [UInt8](repeating: 0x33, count: 16 * 5)
        let before = KeyLockerEmulator.threadCounters
        try key.withCipher(for: [.encrypt, .decrypt]) { cipher throws(EngineError) in
            try cipher.crypt(.encrypt, &buffer)
            try cipher.crypt(.encrypt, &buffer)
            try cipher.crypt(.decrypt, &buffer)
        }
        let counted = KeyLockerEmulator.threadCounters.since(before)
        #expect(counted.aesenc256kl == 10)
        #expect(counted.aesdec256kl == 5)
    }
}

func secret(_ bytes: [UInt8]) throws -> SecretBytes {
    try bytes.withUnsafeBytes { try SecretBytes(copying: $0) }
}

func makeBlockKey(_ engine: any XTSEngine, _ key: [UInt8]) throws -> any BlockCipherKey {
    try engine.makeBlockKey(try secret(key))
}

/// AES-256-ECB without padding through libcrypto.
func openSSLECB(encrypt: Bool, key: [UInt8], _ input: [UInt8]) -> [UInt8] {
    let context = EVP_CIPHER_CTX_new()!
    defer { EVP_CIPHER_CTX_free(context) }
    precondition(EVP_CipherInit_ex(context, EVP_aes_256_ecb(), nil, key, nil, encrypt ? 1 : 0) == 1)
    EVP_CIPHER_CTX_set_padding(context, 0)
    var output = [UInt8](repeating: 0, count: input.count)
    var written: Int32 = 0
    precondition(EVP_CipherUpdate(context, &output, &written, input, Int32(input.count)) == 1)
    precondition(Int(written) == input.count)
    return output
}

extension BlockCipher {
    /// In place over a test's array.
    func crypt(_ direction: CryptDirection, _ bytes: inout [UInt8]) throws(EngineError) {
        let result = bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(EngineError) in try crypt(direction, UnsafeRawBufferPointer(buffer), into: buffer) }
        }
        try result.get()
    }
}

/// A block key over a handle with `bits` of byte `index` flipped after wrapping.
private func tamperedBlockKey(_ locker: any KeyLocker, flipping bits: UInt8, ofByte index: Int) throws -> any BlockCipherKey {
    var handle = try locker.wrap(try secret([UInt8](repeating: 3, count: 32)), restrictions: [])
    handle.bytes[index] ^= bits
    return locker.blockKey(handle: handle)
}
