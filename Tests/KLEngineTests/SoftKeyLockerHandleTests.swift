import CKLKernels
import COpenSSL
import Glibc
import Testing

/// The software Key Locker: the GCM-SIV wrap against RFC 8452, the handle
/// format and every check an AES*KL instruction makes, and secret memory.
@Suite struct SoftKeyLockerHandleTests {

    // MARK: - RFC 8452 Appendix C.2 / C.3 (AEAD_AES_256_GCM_SIV)

    /// One vector, from the derived record keys on (the wrap skips the
    /// per-nonce derivation). "Result" in the RFC is ciphertext || tag.
    struct GCMSIVVector: Sendable, CustomTestStringConvertible {
        let name: String
        let authKey: String, encKey: String, nonce: String
        let aad: String, plaintext: String, ciphertext: String, tag: String
        var testDescription: String { name }
    }

    static let rfc8452Vectors: [GCMSIVVector] = {
        let auth = "b5d3c529dfafac43136d2d11be284d7f"
        let enc = "b914f4742be9e1d7a2f84addbf96dec3" + "456e3c6c05ecc157cdbf0700fedad222"
        let nonce = "030000000000000000000000"
        return [
            GCMSIVVector(name: "32-byte plaintext, no AAD", authKey: auth, encKey: enc, nonce: nonce,
                         aad: "",
                         plaintext: "01000000000000000000000000000000" + "02000000000000000000000000000000",
                         ciphertext: "4a6a9db4c8c6549201b9edb53006cba8" + "21ec9cf850948a7c86c68ac7539d027f",
                         tag: "e819e63abcd020b006a976397632eb5d"),
            GCMSIVVector(name: "16-byte plaintext, 1-byte AAD", authKey: auth, encKey: enc, nonce: nonce,
                         aad: "01",
                         plaintext: "02000000000000000000000000000000",
                         ciphertext: "c91545823cc24f17dbb0e9e807d5ec17",
                         tag: "b292d28ff61189e8e49f3875ef91aff7"),
            GCMSIVVector(name: "32-byte plaintext, 1-byte AAD", authKey: auth, encKey: enc, nonce: nonce,
                         aad: "01",
                         plaintext: "02000000000000000000000000000000" + "03000000000000000000000000000000",
                         ciphertext: "07dad364bfc2b9da89116d7bef6daaaf" + "6f255510aa654f920ac81b94e8bad365",
                         tag: "aea1bad12702e1965604374aab96dbbc"),
            GCMSIVVector(name: "20-byte plaintext, 18-byte AAD", authKey: auth, encKey: enc, nonce: nonce,
                         aad: "01000000000000000000000000000000" + "0200",
                         plaintext: "03000000000000000000000000000000" + "04000000",
                         ciphertext: "43dd0163cdb48f9fe3212bf61b201976" + "067f342b",
                         tag: "b879ad976d8242acc188ab59cabfe307"),
            GCMSIVVector(name: "empty plaintext and AAD",
                         authKey: "e40d26f82774aa27f47b047b608b9585",
                         encKey: "7c7c3d9a542cef53dde0e6de9b580040" + "0f82e73ec5f7ee41b7ba8dcb9ba078c3",
                         nonce: "e0eaf5284d884a0e77d31646",
                         aad: "", plaintext: "", ciphertext: "",
                         tag: "169fbb2fbf389a995f6390af22228a62"),
            GCMSIVVector(name: "12-byte plaintext, 20-byte AAD",
                         authKey: "64779ab10ee8a280272f14cc8851b727",
                         encKey: "25f40fc63f49d3b9016a8eeeb75846e0" + "d72ca36ddbd312b6f5ef38ad14bd2651",
                         nonce: "5c9e940fea2f582950a70d5a",
                         aad: "0da55210cc1c1b0abde3b2f204d1e9f8" + "b06bc47f",
                         plaintext: "1db2316fd568378da107b52b",
                         ciphertext: "8dbeb9f7255bf5769dd56692",
                         tag: "404099c2587f64979f21826706d497d5"),
            GCMSIVVector(name: "21-byte plaintext, 35-byte AAD",
                         authKey: "cb8c3aa3f8dbaeb4b28a3e86ff6625f8",
                         encKey: "02426ce1aa3ab31313b0848469a1b5fc" + "6c9af9602600b195b04ad407026bc06d",
                         nonce: "688089e55540db1872504e1c",
                         aad: "734320ccc9d9bbbb19cb81b2af4ecbc3" + "e72834321f7aa0f70b7282b4f33df23f" + "167541",
                         plaintext: "ced532ce4159b035277d4dfbb7db6296" + "8b13cd4eec",
                         ciphertext: "626660c26ea6612fb17ad91e8e767639" + "edd6c9faee",
                         tag: "9d6c7029675b89eaf4ba1ded1a286594"),
            // C.3: the 32-bit counter wraps inside the message; zero nonce as in the wrap.
            GCMSIVVector(name: "counter wraps, zero nonce",
                         authKey: "dc95c078a24089895275f3d86b4fb868",
                         encKey: "779b38d15bffb63d39d6e9ae76a9b2f3" + "75d11b0e3a68c422845c7d4690fa594f",
                         nonce: "000000000000000000000000",
                         aad: "",
                         plaintext: "00000000000000000000000000000000" + "4db923dc793ee6497c76dcc03a98e108",
                         ciphertext: "f3f80f2cf0cb2dd9c5984fcda908456c" + "c537703b5ba70324a6793a7bf218d3ea",
                         tag: "ffffffff000000000000000000000000"),
        ]
    }()

    @Test(arguments: rfc8452Vectors)
    func gcmSivSealProducesRFC8452CiphertextAndTag(_ v: GCMSIVVector) {
        let plaintext = bytes(v.plaintext)
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count)
        var tag = [UInt8](repeating: 0, count: 16)
        let aad = bytes(v.aad)
        klfs_gcm_siv_seal(bytes(v.authKey), bytes(v.encKey), bytes(v.nonce), aad, aad.count,
                          plaintext, plaintext.count, &ciphertext, &tag)
        #expect(hex(ciphertext) == v.ciphertext)
        #expect(hex(tag) == v.tag)
    }

    @Test(arguments: rfc8452Vectors)
    func gcmSivOpenRecoversRFC8452PlaintextAndRejectsAFlippedTagBit(_ v: GCMSIVVector) {
        let ciphertext = bytes(v.ciphertext), aad = bytes(v.aad)
        var tag = bytes(v.tag)
        var plaintext = [UInt8](repeating: 0xA5, count: ciphertext.count)
        let status = klfs_gcm_siv_open(bytes(v.authKey), bytes(v.encKey), bytes(v.nonce), aad, aad.count,
                                       ciphertext, ciphertext.count, tag, &plaintext)
        #expect(status == KLFS_OK)
        #expect(hex(plaintext) == v.plaintext)

        tag[7] ^= 0x10
        plaintext = [UInt8](repeating: 0xA5, count: ciphertext.count)
        let forged = klfs_gcm_siv_open(bytes(v.authKey), bytes(v.encKey), bytes(v.nonce), aad, aad.count,
                                       ciphertext, ciphertext.count, tag, &plaintext)
        #expect(forged == KLFS_EHANDLE)
        #expect(plaintext.allSatisfy { $0 == 0 }, "unauthenticated plaintext must be zeroed")
    }

    // MARK: - Handles

    @Test(arguments: [128, 256] as [UInt32])
    func encodedHandleLoadsTheScheduleOfTheWrappedKey(bits: UInt32) throws {
        try withIWKey { iwkey in
            let key = randomBytes(Int(bits) / 8)
            let handle = try encode(iwkey, key: key, bits: bits, restrictions: 0)
            for use in [KLFS_ENCRYPT, KLFS_DECRYPT] {
                var loaded = klfs_aes_key()
                #expect(load(iwkey, handle, bits: bits, use: use, into: &loaded) == KLFS_OK)
                var expected = klfs_aes_key()
                if use == KLFS_ENCRYPT {
                    #expect(klfs_aes_expand_key(key, UInt32(bits), &expected, nil) == KLFS_OK)
                } else {
                    #expect(klfs_aes_expand_key(key, UInt32(bits), nil, &expected) == KLFS_OK)
                }
                #expect(roundKeys(loaded) == roundKeys(expected))
            }
        }
    }

    /// One unwrap can serve a caller that needs both directions (EME
    /// decryption encrypts once, then decrypts).
    @Test(arguments: [128, 256] as [UInt32])
    func oneLoadFillsBothSchedulesOfTheWrappedKey(bits: UInt32) throws {
        try withIWKey { iwkey in
            let key = randomBytes(Int(bits) / 8)
            let handle = try encode(iwkey, key: key, bits: bits, restrictions: 0)
            var encrypt = filledSchedule(), decrypt = filledSchedule()
            #expect(klfs_softkl_load_key(iwkey, handle, bits, &encrypt, &decrypt) == KLFS_OK)
            var expectedEncrypt = klfs_aes_key(), expectedDecrypt = klfs_aes_key()
            #expect(klfs_aes_expand_key(key, bits, &expectedEncrypt, &expectedDecrypt) == KLFS_OK)
            #expect(roundKeys(encrypt) == roundKeys(expectedEncrypt))
            #expect(roundKeys(decrypt) == roundKeys(expectedDecrypt))
        }
    }

    /// Asking for both schedules checks both restrictions: either one
    /// refuses the whole load and leaves both schedules zeroed.
    @Test func aLoadForBothUsesIsRefusedByEitherRestriction() throws {
        try withIWKey { iwkey in
            for restriction in [KLFS_KL_RESTRICT_NO_ENCRYPT, KLFS_KL_RESTRICT_NO_DECRYPT] {
                let handle = try encode(iwkey, key: randomBytes(32), bits: 256, restrictions: UInt32(restriction))
                var encrypt = filledSchedule(), decrypt = filledSchedule()
                #expect(klfs_softkl_load_key(iwkey, handle, 256, &encrypt, &decrypt) == KLFS_EHANDLE)
                #expect(isZero(encrypt) && isZero(decrypt), "restriction \(restriction)")
            }
        }
    }

    @Test(arguments: [128, 256] as [UInt32])
    func handleIsAADThenTagThenGCMSIVCiphertextUnderTheIWKey(bits: UInt32) throws {
        try withIWKey { iwkey in
            let key = randomBytes(Int(bits) / 8)
            let restrictions = UInt32(KLFS_KL_RESTRICT_NO_DECRYPT)
            let handle = try encode(iwkey, key: key, bits: bits, restrictions: restrictions)
            #expect(handle.count == (bits == 128 ? Int(KLFS_HANDLE128_SIZE) : Int(KLFS_HANDLE256_SIZE)))

            var aad = [UInt8](repeating: 0, count: 16)
            aad[0] = UInt8(restrictions)
            aad[3] = bits == 256 ? UInt8(KLFS_KL_KEYTYPE_AES256) : UInt8(KLFS_KL_KEYTYPE_AES128)
            #expect(Array(handle[0..<16]) == aad)

            // The wrap is RFC 8452 with the IWKey halves as the record keys and a zero nonce.
            var ciphertext = [UInt8](repeating: 0, count: key.count)
            var tag = [UInt8](repeating: 0, count: 16)
            withUnsafeBytes(of: iwkey.pointee.integrity_key) { integrity in
                withUnsafeBytes(of: iwkey.pointee.encryption_key) { encryption in
                    klfs_gcm_siv_seal(integrity.bindMemory(to: UInt8.self).baseAddress!,
                                      encryption.bindMemory(to: UInt8.self).baseAddress!,
                                      [UInt8](repeating: 0, count: 12), aad, 16, key, key.count, &ciphertext, &tag)
                }
            }
            #expect(Array(handle[16..<32]) == tag)
            #expect(Array(handle[32...]) == ciphertext)
        }
    }

    @Test func encodingTheSameKeyTwiceGivesTheSameHandle() throws {
        try withIWKey { iwkey in
            let key = randomBytes(32)
            let first = try encode(iwkey, key: key, bits: 256, restrictions: 4)
            let second = try encode(iwkey, key: key, bits: 256, restrictions: 4)
            #expect(first == second)
        }
    }

    @Test(arguments: [128, 256] as [UInt32])
    func eachRestrictionIsRefusedInTheDirectionItForbids(bits: UInt32) throws {
        try withIWKey { iwkey in
            let key = randomBytes(Int(bits) / 8)
            for restrictions in UInt32(0)...7 {
                let handle = try encode(iwkey, key: key, bits: bits, restrictions: restrictions)
                for use in [KLFS_ENCRYPT, KLFS_DECRYPT] {
                    let cpl0Only = restrictions & UInt32(KLFS_KL_RESTRICT_CPL0_ONLY) != 0
                    let forbidden = use == KLFS_ENCRYPT ? UInt32(KLFS_KL_RESTRICT_NO_ENCRYPT)
                                                        : UInt32(KLFS_KL_RESTRICT_NO_DECRYPT)
                    let allowed = !cpl0Only && restrictions & forbidden == 0
                    var schedule = filledSchedule()
                    let status = load(iwkey, handle, bits: bits, use: use, into: &schedule)
                    #expect(status == (allowed ? KLFS_OK : KLFS_EHANDLE),
                            "restrictions \(restrictions), use \(use.rawValue)")
                    if !allowed { #expect(isZero(schedule), "a refused load leaves the schedule zeroed") }
                }
            }
        }
    }

    @Test(arguments: [128, 256] as [UInt32])
    func flippedBitInAnyHandleByteIsRejected(bits: UInt32) throws {
        try withIWKey { iwkey in
            var handle = try encode(iwkey, key: randomBytes(Int(bits) / 8), bits: bits, restrictions: 0)
            var rejected = 0
            for byte in handle.indices {
                for bit in 0..<8 {
                    handle[byte] ^= UInt8(1) << bit
                    var schedule = filledSchedule()
                    if load(iwkey, handle, bits: bits, use: KLFS_ENCRYPT, into: &schedule) == KLFS_EHANDLE
                        && isZero(schedule) { rejected += 1 }
                    handle[byte] ^= UInt8(1) << bit
                }
            }
            #expect(rejected == handle.count * 8)
            var schedule = klfs_aes_key()
            #expect(load(iwkey, handle, bits: bits, use: KLFS_ENCRYPT, into: &schedule) == KLFS_OK)
        }
    }

    @Test func handleMadeUnderAnotherIWKeyIsRejected() throws {
        try withIWKey { mine in
            try withIWKey { theirs in
                let handle = try encode(theirs, key: randomBytes(32), bits: 256, restrictions: 0)
                var schedule = klfs_aes_key()
                #expect(load(mine, handle, bits: 256, use: KLFS_ENCRYPT, into: &schedule) == KLFS_EHANDLE)
                #expect(load(theirs, handle, bits: 256, use: KLFS_ENCRYPT, into: &schedule) == KLFS_OK)
            }
        }
    }

    @Test func handleOfTheOtherKeySizeIsRejected() throws {
        try withIWKey { iwkey in
            let handle128 = try encode(iwkey, key: randomBytes(16), bits: 128, restrictions: 0)
            let handle256 = try encode(iwkey, key: randomBytes(32), bits: 256, restrictions: 0)
            var schedule = klfs_aes_key()
            #expect(load(iwkey, handle128 + [UInt8](repeating: 0, count: 16), bits: 256, use: KLFS_ENCRYPT,
                         into: &schedule) == KLFS_EHANDLE)
            #expect(load(iwkey, handle256, bits: 128, use: KLFS_ENCRYPT, into: &schedule) == KLFS_EHANDLE)
        }
    }

    @Test func restrictionsAbove7AreRefusedByEncodeKey() throws {
        try withIWKey { iwkey in
            let key = randomBytes(32)
            for restrictions: UInt32 in [8, 0x10, 0x8000_0000, 0xFFFF_FFFF] {
                var handle = [UInt8](repeating: 0, count: 64)
                #expect(klfs_softkl_encode_key(iwkey, restrictions, key, 256, &handle) == KLFS_EINVAL)
            }
        }
    }

    // MARK: - XTS through handles

    @Test func xtsThroughHandlesMatchesOpenSSLAndRoundTrips() throws {
        try withIWKey { iwkey in
            let key = randomBytes(64)
            let (dataHandle, tweakHandle) = try xtsHandles(iwkey, key: key)
            let unitSize = 4096, units = 3
            let plaintext = randomBytes(unitSize * units)
            var first = [UInt8](repeating: 0, count: 16)
            first[0] = 0xFE; first[1] = 0x12
            var ciphertext = [UInt8](repeating: 0, count: plaintext.count)
            #expect(softXTS(iwkey, dataHandle, tweakHandle, KLFS_ENCRYPT, plaintext, &ciphertext,
                            unitSize: unitSize, units: units, first: first) == KLFS_OK)
            #expect(ciphertext == openSSLXTSEncrypt(key: key, plaintext, unitSize: unitSize, first: first))

            var decrypted = [UInt8](repeating: 0, count: plaintext.count)
            #expect(softXTS(iwkey, dataHandle, tweakHandle, KLFS_DECRYPT, ciphertext, &decrypted,
                            unitSize: unitSize, units: units, first: first) == KLFS_OK)
            #expect(decrypted == plaintext)
        }
    }

    @Test func xtsRefusesATweakHandleThatMayNotEncrypt() throws {
        try withIWKey { iwkey in
            let dataHandle = try encode(iwkey, key: randomBytes(32), bits: 256, restrictions: 0)
            let tweakHandle = try encode(iwkey, key: randomBytes(32), bits: 256,
                                         restrictions: UInt32(KLFS_KL_RESTRICT_NO_ENCRYPT))
            let input = randomBytes(512)
            var output = [UInt8](repeating: 0, count: 512)
            let first = [UInt8](repeating: 0, count: 16)
            for direction in [KLFS_ENCRYPT, KLFS_DECRYPT] {
                #expect(softXTS(iwkey, dataHandle, tweakHandle, direction, input, &output,
                                unitSize: 512, units: 1, first: first) == KLFS_EHANDLE)
            }
        }
    }

    /// A refused data handle (decrypting through a no-decrypt handle) or
    /// a tampered tweak handle leaves zeros where the output would be.
    @Test func aRefusedXTSCallLeavesZeros() throws {
        try withIWKey { iwkey in
            let key = randomBytes(64)
            let (dataHandle, tweakHandle) = try xtsHandles(iwkey, key: key)
            let noDecryptData = try encode(iwkey, key: Array(key[0..<32]), bits: 256,
                                           restrictions: UInt32(KLFS_KL_RESTRICT_NO_DECRYPT))
            var tamperedTweak = tweakHandle
            tamperedTweak[40] ^= 1
            let input = randomBytes(1024)
            let first = [UInt8](repeating: 3, count: 16)
            for (data, tweak, direction) in [(noDecryptData, tweakHandle, KLFS_DECRYPT),
                                             (dataHandle, tamperedTweak, KLFS_ENCRYPT)] {
                var output = [UInt8](repeating: 0xCC, count: input.count)
                #expect(softXTS(iwkey, data, tweak, direction, input, &output, unitSize: 512, units: 2,
                                first: first) == KLFS_EHANDLE)
                #expect(output.allSatisfy { $0 == 0 })
            }
        }
    }

    // MARK: - Secret memory

    @Test(arguments: [false, true])
    func secretAllocationIsZeroedWritableAndReportsItsBacking(allowMemfdSecret: Bool) throws {
        let size = 10_000
        var backing = klfs_secret_backing(rawValue: 0)
        let memory = try #require(klfs_secret_alloc(size, allowMemfdSecret, &backing))
        defer { klfs_secret_free(memory, size) }
        let expected = allowMemfdSecret && klfs_memfd_secret_available()
            ? KLFS_SECRET_MEMFD_SECRET : KLFS_SECRET_LOCKED_ANONYMOUS
        #expect(backing == expected)
        let buffer = UnsafeMutableRawBufferPointer(start: memory, count: size)
        #expect(buffer.allSatisfy { $0 == 0 })
        for i in buffer.indices { buffer[i] = UInt8(truncatingIfNeeded: i) }
        #expect(buffer.enumerated().allSatisfy { $0.element == UInt8(truncatingIfNeeded: $0.offset) })
    }

    @Test(.enabled(if: klfs_memfd_secret_available()))
    func memfdSecretMemoryIsUnreadableThroughProcSelfMem() throws {
        var backing = klfs_secret_backing(rawValue: 0)
        let memory = try #require(klfs_secret_alloc(4096, true, &backing))
        defer { klfs_secret_free(memory, 4096) }
        memset(memory, 0x5A, 4096)
        let fd = open("/proc/self/mem", O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        var copy = [UInt8](repeating: 0, count: 16)
        let read = pread(fd, &copy, 16, off_t(Int(bitPattern: memory)))
        #expect(read < 0, "the kernel must not read secretmem pages on our behalf")
    }

    @Test func randomBytesFillsLargeBuffers() {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        #expect(klfs_random_bytes(&buffer, buffer.count) == 0)
        #expect(buffer.contains { $0 != 0 })
    }

    // MARK: - Helpers

    /// Runs `body` with a fresh IWKey in secret memory, like the engine's,
    /// freed (wiped) when `body` returns.
    private func withIWKey<R>(_ body: (UnsafeMutablePointer<klfs_iwkey>) throws -> R) throws -> R {
        let size = MemoryLayout<klfs_iwkey>.size
        var backing = klfs_secret_backing(rawValue: 0)
        let raw = try #require(klfs_secret_alloc(size, true, &backing))
        defer { klfs_secret_free(raw, size) }
        let iwkey = raw.bindMemory(to: klfs_iwkey.self, capacity: 1)
        try #require(klfs_iwkey_generate(iwkey, UInt32(KLFS_IWKEY_NO_BACKUP)) == 0)
        return try body(iwkey)
    }

    private func encode(_ iwkey: UnsafePointer<klfs_iwkey>, key: [UInt8], bits: UInt32,
                        restrictions: UInt32) throws -> [UInt8] {
        var handle = [UInt8](repeating: 0, count: bits == 128 ? Int(KLFS_HANDLE128_SIZE) : Int(KLFS_HANDLE256_SIZE))
        try #require(klfs_softkl_encode_key(iwkey, restrictions, key, bits, &handle) == KLFS_OK)
        return handle
    }

    /// The handles of an XTS key K1 || K2 as the engine makes them: the
    /// tweak handle may not decrypt.
    private func xtsHandles(_ iwkey: UnsafePointer<klfs_iwkey>, key: [UInt8]) throws -> ([UInt8], [UInt8]) {
        (try encode(iwkey, key: Array(key[0..<32]), bits: 256, restrictions: 0),
         try encode(iwkey, key: Array(key[32...]), bits: 256, restrictions: UInt32(KLFS_KL_RESTRICT_NO_DECRYPT)))
    }

    private func load(_ iwkey: UnsafePointer<klfs_iwkey>, _ handle: [UInt8], bits: UInt32,
                      use: klfs_direction, into schedule: inout klfs_aes_key) -> Int32 {
        use == KLFS_ENCRYPT ? klfs_softkl_load_key(iwkey, handle, bits, &schedule, nil)
                            : klfs_softkl_load_key(iwkey, handle, bits, nil, &schedule)
    }

    private func softXTS(_ iwkey: UnsafePointer<klfs_iwkey>, _ dataHandle: [UInt8], _ tweakHandle: [UInt8],
                         _ direction: klfs_direction, _ input: [UInt8], _ output: inout [UInt8],
                         unitSize: Int, units: Int, first: [UInt8]) -> Int32 {
        klfs_softkl_xts_crypt(iwkey, dataHandle, tweakHandle, direction, input, &output, unitSize, units, first, 1,
                              KLFS_XTS_KERNEL_AUTO)
    }

    private func roundKeys(_ key: klfs_aes_key) -> [UInt8] {
        withUnsafeBytes(of: key.round_keys) { Array($0.prefix(16 * (Int(key.rounds) + 1))) }
    }

    private func filledSchedule() -> klfs_aes_key {
        var schedule = klfs_aes_key()
        memset(&schedule, 0xCC, MemoryLayout<klfs_aes_key>.size)
        return schedule
    }

    private func isZero(_ schedule: klfs_aes_key) -> Bool {
        withUnsafeBytes(of: schedule.round_keys) { $0.allSatisfy { $0 == 0 } } && schedule.rounds == 0
    }

    private func randomBytes(_ count: Int) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        precondition(klfs_random_bytes(&buffer, count) == 0)
        return buffer
    }

    private func openSSLXTSEncrypt(key: [UInt8], _ plaintext: [UInt8], unitSize: Int, first: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: plaintext.count)
        var unit = first
        let context = EVP_CIPHER_CTX_new()!
        defer { EVP_CIPHER_CTX_free(context) }
        for offset in stride(from: 0, to: plaintext.count, by: unitSize) {
            var written: Int32 = 0
            precondition(EVP_EncryptInit_ex(context, EVP_aes_256_xts(), nil, key, unit) == 1)
            plaintext.withUnsafeBufferPointer { input in
                output.withUnsafeMutableBufferPointer { out in
                    precondition(EVP_EncryptUpdate(context, out.baseAddress! + offset, &written,
                                                   input.baseAddress! + offset, Int32(unitSize)) == 1)
                }
            }
            // The data unit number is a 128-bit little-endian counter.
            for i in unit.indices {
                unit[i] &+= 1
                if unit[i] != 0 { break }
            }
        }
        return output
    }
}

private func bytes(_ hex: String) -> [UInt8] {
    var result: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        result.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return result
}

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}
