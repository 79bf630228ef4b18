import COpenSSL
@testable import KLBlock
import KLEngine
import Testing
import KLTestSupport

@Suite struct CipherFileFormatTests {
    /// Decrypts backing files with libcrypto's EVP_aes_256_xts using only
    /// docs/FORMAT.md and the master key K1 || K2, for both header versions.
    @Test(arguments: [512, 4096], [1, 2])
    func openSSLDecryptsABackingFileFromTheDocumentAlone(sectorBytes: Int, version: Int) throws {
        let directory = try CipherFileFixture.Directory()
        let backing = try directory.backingFile("format")
        let file = try CipherFile.create(descriptor: backing.fd,
                                         format: CipherFileFixture.format(SectorSize(bytes: sectorBytes)!, version: version))
        var generator = SeededGenerator(seed: 5)
        var model: [UInt8] = []
        for (offset, length) in [(0, 3 * sectorBytes + 17), (10 * sectorBytes + 3, 2 * sectorBytes), (5, 40)] {
            let data = CipherFileFixture.randomBytes(length, using: &generator)
            try file.writeBytes(data, at: offset)
            CipherFileFixture.apply(write: data, at: offset, to: &model)
        }

        let decrypted = try Self.decryptByTheDocument(try backing.rawBytes(), masterKey: CipherFileFixture.rawKey)
        #expect(decrypted == model)
    }

    /// FORMAT.md, "Decrypting a file by hand" (version 2) and "Version 1
    /// volumes": the header read at its documented offsets (version 2's
    /// sealed record opened with the EME of SpecReader, written from the
    /// document, under the header key derived as documented), sector i at
    /// (i + 1) * S, all-zero sectors are holes, IV = the data unit number
    /// as 16 little-endian bytes, the plaintext cut at the size (or kept to
    /// the end of the last sector with `throughLastSector`).
    static func decryptByTheDocument(_ raw: [UInt8], masterKey: [UInt8],
                                     throughLastSector: Bool = false) throws -> [UInt8] {
        #expect(Array(raw[0..<8]) == Array("klfs.xts".utf8))
        let sector = 1 << Int(raw[10])
        let size: Int
        let iv: (Int) -> [UInt8]
        switch (raw[8], raw[9]) {
        case (1, 0):
            size = Int(raw[24..<32].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            iv = { index in withUnsafeBytes(of: UInt64(index).littleEndian) { Array($0) } + raw[16..<24] }
        case (2, 0):
            size = Int(try #require(SpecReader.openHeader(Array(raw[0..<64]), masterKey: masterKey),
                                    "the header does not authenticate"))
            iv = { index in SpecReader.sectorIV(fileID: Array(raw[16..<32]), index: index) }
        default:
            Issue.record("unknown version \(raw[8]), \(raw[9])")
            return []
        }

        let context = EVP_CIPHER_CTX_new()!
        defer { EVP_CIPHER_CTX_free(context) }
        #expect(EVP_CipherInit_ex(context, EVP_aes_256_xts(), nil, masterKey, nil, 0) == 1)
        var plaintext: [UInt8] = []
        var index = 0
        while plaintext.count < size {
            let start = (index + 1) * sector
            let ciphertext = Array(raw[start..<start + sector])
            if ciphertext.allSatisfy({ $0 == 0 }) {
                plaintext += ciphertext
            } else {
                var output = [UInt8](repeating: 0, count: sector)
                var written: Int32 = 0
                #expect(EVP_CipherInit_ex(context, nil, nil, nil, iv(index), -1) == 1)
                #expect(EVP_CipherUpdate(context, &output, &written, ciphertext, Int32(sector)) == 1)
                plaintext += output
            }
            index += 1
        }
        return throughLastSector ? plaintext : Array(plaintext[0..<size])
    }

    @Test(arguments: [1, 2])
    func identicalPlaintextInTwoFilesGivesDifferentBackingBytes(version: Int) throws {
        let directory = try CipherFileFixture.Directory()
        let format = try CipherFileFixture.format(version: version)
        let plaintext = [UInt8](repeating: 0x41, count: 8 * 4096)
        var sectorsOf: [[[UInt8]]] = []
        for name in ["one", "two"] {
            let backing = try directory.backingFile(name)
            let file = try CipherFile.create(descriptor: backing.fd, format: format)
            try file.writeBytes(plaintext, at: 0)
            let raw = try backing.rawBytes()
            sectorsOf.append((1...8).map { Array(raw[$0 * 4096..<($0 + 1) * 4096]) })
        }
        for index in 0..<8 {
            #expect(sectorsOf[0][index] != sectorsOf[1][index], "sector \(index)")
            #expect(!sectorsOf[0].dropFirst(index + 1).contains(sectorsOf[0][index]), "sectors differ within a file")
        }
    }

    /// U = F + i modulo 2^128: a file ID just below 2^128 wraps between its
    /// sectors, in klfs and in the document's reading alike.
    @Test func sectorNumbersWrapModulo2To128() throws {
        let directory = try CipherFileFixture.Directory()
        let backing = try directory.backingFile("wrap")
        let format = try CipherFileFixture.format()
        backing.overwrite(try CipherFileHeader(fileID: .max - 1, size: 0).encoded(format), at: 0)
        let file = try CipherFile.open(descriptor: backing.fd, format: format)
        #expect(file.fileID == UInt128.max - 1)
        var generator = SeededGenerator(seed: 7)
        let plaintext = CipherFileFixture.randomBytes(4 * 4096, using: &generator)
        try file.writeBytes(plaintext, at: 0)
        #expect(try Self.decryptByTheDocument(backing.rawBytes(), masterKey: CipherFileFixture.rawKey) == plaintext)
        #expect(SpecReader.sectorIV(fileID: [UInt8](repeating: 0xFF, count: 16), index: 2)
            == [1] + [UInt8](repeating: 0, count: 15))
    }

    /// Each engine writes a file that every engine reads back.
    @Test(arguments: [1, 2])
    func everyEngineReadsWhatEveryEngineWrote(version: Int) throws {
        try KeyLockerEmulator.install()
        let engines: [EngineKind] = [.keylocker, .keylockerSoft, .aesni]
        let sectorSize = SectorSize(bytes: 1024)!
        let formats = try engines.map { try CipherFileFixture.format(sectorSize, version: version, engine: $0) }
        let directory = try CipherFileFixture.Directory()
        var generator = SeededGenerator(seed: 6)
        let plaintext = CipherFileFixture.randomBytes(5 * 1024 + 333, using: &generator)
        for (writer, writerFormat) in zip(engines, formats) {
            let backing = try directory.backingFile("by-\(writer)")
            let file = try CipherFile.create(descriptor: backing.fd, format: writerFormat)
            try file.writeBytes(Array(plaintext[0..<777]), at: 0)
            try file.writeBytes(Array(plaintext[777...]), at: 777)
            for (reader, readerFormat) in zip(engines, formats) {
                let reopened = try CipherFile.open(descriptor: backing.fd, format: readerFormat)
                #expect(try reopened.readAll() == plaintext, "written by \(writer), read by \(reader)")
            }
            #expect(try Self.decryptByTheDocument(backing.rawBytes(), masterKey: CipherFileFixture.rawKey) == plaintext)
        }
    }
}
