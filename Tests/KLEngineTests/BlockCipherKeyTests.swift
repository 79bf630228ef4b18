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
            var handle = try locker.wrap(try secret([UInt8](repeating: 3, count: 32)), restrictions: [])
            handle.bytes[40] ^= 1
            let key = locker.blockKey(handle: handle)
            var buffer = [UInt8](repeating: 0x5A, count: 48)
            #expect(throws: EngineError.handleRejected) {
                try buffer.withUnsafeMutableBytes { try key.encryptBlocks($0) }
            }
            #expect(buffer == [UInt8](repeating: 0, count: 48), "\(engine.kind)")
        }
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
