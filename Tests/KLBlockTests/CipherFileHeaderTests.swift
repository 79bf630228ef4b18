import Glibc
import KLBlock
import Testing

@Suite struct CipherFileHeaderTests {
    let sectorSize = SectorSize(bytes: 4096)!

    @Test func theHeaderIsTheDocumentedThirtyTwoBytes() throws {
        let header = CipherFileHeader(sectorSize: SectorSize(bytes: 1024)!, nonce: 0x0123_4567_89AB_CDEF, size: 0x1_0000_0002)
        #expect(header.encoded == Array("klfs.xts".utf8) + [1, 0, 10, 0, 0, 0, 0, 0]
            + [0xEF, 0xCD, 0xAB, 0x89, 0x67, 0x45, 0x23, 0x01] + [2, 0, 0, 0, 1, 0, 0, 0])
        #expect(try CipherFileHeader(parsing: header.encoded) == header)
    }

    @Test func createWritesAFreshHeaderAndNoncesDiffer() throws {
        let directory = try CipherFileFixture.Directory()
        let first = try directory.backingFile("a")
        let second = try directory.backingFile("b")
        let key = try CipherFileFixture.key()
        let a = try CipherFile.create(descriptor: first.fd, key: key, sectorSize: sectorSize)
        let b = try CipherFile.create(descriptor: second.fd, key: key, sectorSize: sectorSize)
        #expect(a.nonce != b.nonce)
        #expect(try first.length() == CipherFileHeader.length)
        let header = try CipherFileHeader.read(fromDescriptor: first.fd)
        #expect(header == CipherFileHeader(sectorSize: sectorSize, nonce: a.nonce, size: 0))
    }

    @Test func corruptHeadersAreTypedErrorsWithEIO() throws {
        let directory = try CipherFileFixture.Directory()
        let key = try CipherFileFixture.key()
        var valid = CipherFileHeader(sectorSize: sectorSize, nonce: 42, size: 4097)
        let validBytes = valid.encoded
        let data = [UInt8](repeating: 0x5A, count: 3 * 4096 - CipherFileHeader.length)

        func open(_ bytes: [UInt8], length: Int? = nil, volume: SectorSize? = nil) throws {
            let backing = try directory.backingFile("corrupt", flags: O_RDWR | O_CREAT | O_TRUNC)
            backing.overwrite(bytes, at: 0)
            if let length { #expect(ftruncate(backing.fd, off_t(length)) == 0) }
            _ = try CipherFile.open(descriptor: backing.fd, key: key, sectorSize: volume ?? sectorSize)
        }
        func expectCorrupt(_ corruption: CipherFileCorruption, _ body: () throws -> Void) {
            let error = #expect(throws: CipherFileError.self) { try body() }
            #expect(error == .corrupt(corruption))
            #expect(error?.errno == EIO)
        }

        for length in [1, 8, 31] {
            expectCorrupt(.truncatedHeader(length: length)) { try open(Array(validBytes[0..<length])) }
        }
        var bytes = validBytes
        bytes[3] ^= 0x20
        expectCorrupt(.badMagic) { try open(bytes + data) }
        bytes = validBytes
        bytes[8] = 2
        expectCorrupt(.unknownVersion(2)) { try open(bytes + data) }
        for log2: UInt8 in [0, 8, 13, 255] {
            bytes = validBytes
            bytes[10] = log2
            expectCorrupt(.invalidSectorSize(log2: log2)) { try open(bytes + data) }
        }
        bytes = validBytes
        bytes[14] = 1
        expectCorrupt(.reservedBytesSet) { try open(bytes + data) }
        bytes = validBytes
        bytes.replaceSubrange(24..<32, with: [UInt8](repeating: 0xFF, count: 8))
        expectCorrupt(.sizeOutOfRange(.max)) { try open(bytes + data) }
        expectCorrupt(.sectorSizeMismatch(file: 4096, volume: 512)) {
            try open(validBytes + data, volume: SectorSize(bytes: 512)!)
        }
        // Size 4097 needs sectors 0 and 1: the file must reach 3 * 4096.
        expectCorrupt(.sizeBeyondData(size: 4097, requiredLength: 3 * 4096, backingLength: 3 * 4096 - 1)) {
            try open(validBytes, length: 3 * 4096 - 1)
        }
        expectCorrupt(.sizeBeyondData(size: 4097, requiredLength: 3 * 4096, backingLength: 32)) {
            try open(validBytes)
        }
        try open(validBytes, length: 3 * 4096)
        try open(validBytes, length: 9 * 4096)
        valid.size = 0
        try open(valid.encoded)
    }

    /// A crash between creating the backing file and writing its header
    /// leaves zero bytes: that is an empty file, not a corrupt one.
    @Test func aZeroLengthBackingFileIsAnEmptyFileThatGetsAHeaderOnItsFirstWrite() throws {
        let directory = try CipherFileFixture.Directory()
        let backing = try directory.backingFile("empty")
        let key = try CipherFileFixture.key()
        let file = try CipherFile.open(descriptor: backing.fd, key: key, sectorSize: sectorSize)
        #expect(file.size == 0)
        #expect(try file.readBytes(count: 10, at: 0) == [])
        #expect(try backing.length() == 0, "reading writes nothing")
        #expect(try CipherFileHeader.read(fromDescriptor: backing.fd) == nil)
        try file.writeBytes([1, 2, 3], at: 5)
        let reopened = try CipherFile.open(descriptor: backing.fd, key: key, sectorSize: sectorSize)
        #expect(reopened.nonce == file.nonce)
        #expect(try reopened.readAll() == [0, 0, 0, 0, 0, 1, 2, 3])
    }
}
