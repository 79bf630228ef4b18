import COpenSSL
import KLBlock
import KLEngine
import Testing
import KLTestSupport

@Suite struct CipherFileFormatTests {
    /// Decrypts backing files with libcrypto's EVP_aes_256_xts using only
    /// docs/FORMAT.md and the raw key K1 || K2: header fields at their
    /// documented offsets, sector i at (i + 1) * sector size, IV = i as
    /// 8 little-endian bytes then the header's nonce bytes, all-zero
    /// sectors are holes, the plaintext cut at the header's size.
    @Test(arguments: [512, 4096])
    func openSSLDecryptsABackingFileFromTheDocumentAlone(sectorBytes: Int) throws {
        let directory = try CipherFileFixture.Directory()
        let backing = try directory.backingFile("format")
        let file = try CipherFile.create(descriptor: backing.fd, key: CipherFileFixture.key(),
                                         sectorSize: SectorSize(bytes: sectorBytes)!)
        var generator = SeededGenerator(seed: 5)
        var model: [UInt8] = []
        for (offset, length) in [(0, 3 * sectorBytes + 17), (10 * sectorBytes + 3, 2 * sectorBytes), (5, 40)] {
            let data = CipherFileFixture.randomBytes(length, using: &generator)
            try file.writeBytes(data, at: offset)
            CipherFileFixture.apply(write: data, at: offset, to: &model)
        }

        let decrypted = try Self.decryptByTheDocument(try backing.rawBytes(), key: CipherFileFixture.rawKey)
        #expect(decrypted == model)
    }

    static func decryptByTheDocument(_ raw: [UInt8], key: [UInt8]) throws -> [UInt8] {
        #expect(Array(raw[0..<8]) == Array("klfs.xts".utf8))
        #expect(raw[8] == 1 && raw[9] == 0)
        let sector = 1 << Int(raw[10])
        let nonceBytes = Array(raw[16..<24])
        let size = Int(raw[24..<32].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })

        let context = EVP_CIPHER_CTX_new()!
        defer { EVP_CIPHER_CTX_free(context) }
        #expect(EVP_CipherInit_ex(context, EVP_aes_256_xts(), nil, key, nil, 0) == 1)
        var plaintext: [UInt8] = []
        var index = 0
        while plaintext.count < size {
            let start = (index + 1) * sector
            let ciphertext = Array(raw[start..<start + sector])
            if ciphertext.allSatisfy({ $0 == 0 }) {
                plaintext += ciphertext
            } else {
                let iv = withUnsafeBytes(of: UInt64(index).littleEndian) { Array($0) } + nonceBytes
                var output = [UInt8](repeating: 0, count: sector)
                var written: Int32 = 0
                #expect(EVP_CipherInit_ex(context, nil, nil, nil, iv, -1) == 1)
                #expect(EVP_CipherUpdate(context, &output, &written, ciphertext, Int32(sector)) == 1)
                plaintext += output
            }
            index += 1
        }
        return Array(plaintext[0..<size])
    }

    @Test func identicalPlaintextInTwoFilesGivesDifferentBackingBytes() throws {
        let directory = try CipherFileFixture.Directory()
        let key = try CipherFileFixture.key()
        let plaintext = [UInt8](repeating: 0x41, count: 8 * 4096)
        var sectorsOf: [[[UInt8]]] = []
        for name in ["one", "two"] {
            let backing = try directory.backingFile(name)
            let file = try CipherFile.create(descriptor: backing.fd, key: key, sectorSize: SectorSize(bytes: 4096)!)
            try file.writeBytes(plaintext, at: 0)
            let raw = try backing.rawBytes()
            sectorsOf.append((1...8).map { Array(raw[$0 * 4096..<($0 + 1) * 4096]) })
        }
        for index in 0..<8 {
            #expect(sectorsOf[0][index] != sectorsOf[1][index], "sector \(index)")
            #expect(!sectorsOf[0].dropFirst(index + 1).contains(sectorsOf[0][index]), "sectors differ within a file")
        }
    }

    /// Each engine writes a file that every engine reads back.
    @Test func everyEngineReadsWhatEveryEngineWrote() throws {
        try KeyLockerEmulator.install()
        let engines: [EngineKind] = [.keylocker, .keylockerSoft, .aesni]
        let keys = try engines.map { try CipherFileFixture.key($0) }
        let sectorSize = SectorSize(bytes: 1024)!
        let directory = try CipherFileFixture.Directory()
        var generator = SeededGenerator(seed: 6)
        let plaintext = CipherFileFixture.randomBytes(5 * 1024 + 333, using: &generator)
        for (writer, writerKey) in zip(engines, keys) {
            let backing = try directory.backingFile("by-\(writer)")
            let file = try CipherFile.create(descriptor: backing.fd, key: writerKey, sectorSize: sectorSize)
            try file.writeBytes(Array(plaintext[0..<777]), at: 0)
            try file.writeBytes(Array(plaintext[777...]), at: 777)
            for (reader, readerKey) in zip(engines, keys) {
                let reopened = try CipherFile.open(descriptor: backing.fd, key: readerKey, sectorSize: sectorSize)
                #expect(try reopened.readAll() == plaintext, "written by \(writer), read by \(reader)")
            }
            #expect(try Self.decryptByTheDocument(backing.rawBytes(), key: CipherFileFixture.rawKey) == plaintext)
        }
    }
}
