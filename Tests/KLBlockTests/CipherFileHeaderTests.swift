import Glibc
@testable import KLBlock
import KLTestSupport
import Testing

@Suite struct CipherFileHeaderTests {
    @Test func theVersion1HeaderIsTheDocumentedThirtyTwoBytes() throws {
        let format = try CipherFileFixture.format(SectorSize(bytes: 1024)!, version: 1)
        let header = CipherFileHeader(fileID: 0x0123_4567_89AB_CDEF << 64, size: 0x1_0000_0002)
        #expect(try header.encoded(format) == Array("klfs.xts".utf8) + [1, 0, 10, 0, 0, 0, 0, 0]
            + [0xEF, 0xCD, 0xAB, 0x89, 0x67, 0x45, 0x23, 0x01] + [2, 0, 0, 0, 1, 0, 0, 0])
        #expect(try CipherFileHeader(parsing: header.encoded(format), format: format) == header)
    }

    /// The worked example of docs/FORMAT.md, "The sealed record": master key
    /// 00 01 .. 3f, file ID 00 11 .. ff as stored, 20000 bytes, 4096-byte
    /// sectors. (The document's bytes were computed apart from klfs, with
    /// Python's BLAKE2b and `openssl enc -aes-256-ecb`.)
    @Test func theVersion2HeaderIsTheDocumentedWorkedExample() throws {
        let masterKey = (0..<64).map { UInt8($0) }
        let format = try CipherFileFixture.format(raw: masterKey)
        let storedID: [UInt8] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF]
        let header = CipherFileHeader(fileID: UInt128(littleEndianBytes: storedID[...]), size: 20000)
        let documented = Array("klfs.xts".utf8) + [2, 0, 12, 0, 0, 0, 0, 0] + storedID + [
            0xE0, 0x9E, 0x75, 0x3E, 0x11, 0xD5, 0xEA, 0x81, 0x66, 0x28, 0xC0, 0xEB, 0x50, 0x9F, 0x18, 0x7C,
            0xC4, 0x3A, 0xDC, 0xD1, 0x7A, 0xBA, 0x40, 0x02, 0x42, 0x5C, 0x7B, 0x0C, 0x35, 0xD8, 0x55, 0x6D,
        ]
        #expect(try header.encoded(format) == documented)
        #expect(try CipherFileHeader(parsing: documented, format: format) == header)
        #expect(SpecReader.openHeader(documented, masterKey: masterKey) == 20000)
        #expect(SpecReader.headerKey(masterKey: masterKey).prefix(4) == [0x5F, 0xE2, 0x3F, 0x74])
    }

    /// The size is sealed: two files whose sizes take the same sectors have
    /// backing files of one length, and neither header holds its size's
    /// bytes in clear. (Version 1 keeps it in clear, at bytes 24-31.)
    @Test func aVersion2BackingFileRevealsTheSizeOnlyToTheSector() throws {
        let directory = try CipherFileFixture.Directory()
        let format = try CipherFileFixture.format()
        var lengths: [Int] = []
        for size in [4097, 6000, 8192] {
            let backing = try directory.backingFile("size-\(size)")
            let file = try CipherFile.create(descriptor: backing.fd, format: format)
            try file.writeBytes([UInt8](repeating: 7, count: size), at: 0)
            let header = Array(try backing.rawBytes()[0..<64])
            for needle in [littleEndianBytes(UInt64(size)), littleEndianBytes(UInt32(size))] {
                let found = (0...(header.count - needle.count)).contains { Array(header[$0..<$0 + needle.count]) == needle }
                #expect(!found, "size \(size) in clear")
            }
            lengths.append(try backing.length())
        }
        #expect(Set(lengths) == [3 * 4096])
    }

    @Test(arguments: [1, 2])
    func createWritesAFreshHeaderAndFileIDsDiffer(version: Int) throws {
        let directory = try CipherFileFixture.Directory()
        let first = try directory.backingFile("a")
        let second = try directory.backingFile("b")
        let format = try CipherFileFixture.format(version: version)
        let a = try CipherFile.create(descriptor: first.fd, format: format)
        let b = try CipherFile.create(descriptor: second.fd, format: format)
        #expect(a.fileID != b.fileID)
        if version == 1 { #expect(UInt64(truncatingIfNeeded: a.fileID) == 0, "N * 2^64") }
        #expect(try first.length() == format.headers.length)
        #expect(try first.length() == [32, 64][version - 1])
        let header = try CipherFileHeader.read(fromDescriptor: first.fd, format: format)
        #expect(header == CipherFileHeader(fileID: a.fileID, size: 0))
    }

    @Test(arguments: [1, 2])
    func corruptHeadersAreTypedErrorsWithEIO(version: Int) throws {
        let directory = try CipherFileFixture.Directory()
        let format = try CipherFileFixture.format(version: version)
        let length = format.headers.length
        var valid = CipherFileHeader(fileID: 42 << 64, size: 4097)
        let validBytes = try valid.encoded(format)
        let data = [UInt8](repeating: 0x5A, count: 3 * 4096 - length)

        func open(_ bytes: [UInt8], length: Int? = nil, in volume: CipherFileFormat? = nil) throws {
            let backing = try directory.backingFile("corrupt", flags: O_RDWR | O_CREAT | O_TRUNC)
            backing.overwrite(bytes, at: 0)
            if let length { #expect(ftruncate(backing.fd, off_t(length)) == 0) }
            _ = try CipherFile.open(descriptor: backing.fd, format: volume ?? format)
        }
        func expectCorrupt(_ corruption: CipherFileCorruption, _ body: () throws -> Void) {
            let error = #expect(throws: CipherFileError.self) { try body() }
            #expect(error == .corrupt(corruption))
            #expect(error?.errno == EIO)
        }

        for cut in [1, 8, 15, 16, length - 1] {
            expectCorrupt(.truncatedHeader(length: cut, headerLength: length)) { try open(Array(validBytes[0..<cut])) }
        }
        var bytes = validBytes
        bytes[3] ^= 0x20
        expectCorrupt(.badMagic) { try open(bytes + data) }
        bytes = validBytes
        bytes[8] = 7
        expectCorrupt(.unknownVersion(7)) { try open(bytes + data) }
        for log2: UInt8 in [0, 8, 13, 255] {
            bytes = validBytes
            bytes[10] = log2
            expectCorrupt(.invalidSectorSize(log2: log2)) { try open(bytes + data) }
        }
        bytes = validBytes
        bytes[14] = 1
        expectCorrupt(.reservedBytesSet) { try open(bytes + data) }
        let huge = try CipherFileHeader(fileID: 42 << 64, size: .max).encoded(format)
        expectCorrupt(.sizeOutOfRange(UInt64(Int.max))) { try open(huge + data) }
        expectCorrupt(.sectorSizeMismatch(file: 4096, volume: 512)) {
            try open(validBytes + data, in: try CipherFileFixture.format(SectorSize(bytes: 512)!, version: version))
        }
        // Size 4097 needs sectors 0 and 1: the file must reach 3 * 4096.
        expectCorrupt(.sizeBeyondData(size: 4097, requiredLength: 3 * 4096, backingLength: 3 * 4096 - 1)) {
            try open(validBytes, length: 3 * 4096 - 1)
        }
        expectCorrupt(.sizeBeyondData(size: 4097, requiredLength: 3 * 4096, backingLength: length)) {
            try open(validBytes)
        }
        try open(validBytes, length: 3 * 4096)
        try open(validBytes, length: 9 * 4096)
        valid.size = 0
        try open(try valid.encoded(format))
    }

    /// Each volume reads only its own header version, so a version 2 file
    /// cannot be downgraded to the unauthenticated version 1 record.
    @Test func aVolumeRefusesTheOtherVersionsHeader() throws {
        let directory = try CipherFileFixture.Directory()
        let version1 = try CipherFileFixture.format(version: 1)
        let version2 = try CipherFileFixture.format(version: 2)
        for (writer, reader) in [(version1, version2), (version2, version1)] {
            let backing = try directory.backingFile("v\(writer.headers.version)", flags: O_RDWR | O_CREAT | O_TRUNC)
            try CipherFile.create(descriptor: backing.fd, format: writer).writeBytes([1, 2, 3], at: 0)
            let error = #expect(throws: CipherFileError.self) { try CipherFile.open(descriptor: backing.fd, format: reader) }
            #expect(error == .corrupt(.versionMismatch(file: writer.headers.version, volume: reader.headers.version)))
            #expect(error?.description == "not a valid klfs file: version \(writer.headers.version) header "
                + "on a version \(reader.headers.version) volume")
        }
    }

    /// Every byte of a version 2 header is covered: bytes 0-15 by their own
    /// checks and the seal, the file ID as the seal's tweak, the record by
    /// EME. One flipped bit anywhere makes the file corrupt.
    @Test func everyBitOfAVersion2HeaderIsChecked() throws {
        let format = try CipherFileFixture.format()
        let valid = try CipherFileHeader(fileID: 0x1234 << 70 | 99, size: 3000).encoded(format)
        for bit in 0..<(8 * valid.count) {
            var bytes = valid
            bytes[bit / 8] ^= 1 << (bit % 8)
            #expect(throws: CipherFileError.self, "bit \(bit)") { try CipherFileHeader(parsing: bytes, format: format) }
            if bit >= 128 {
                #expect(throws: CipherFileError.corrupt(.notAuthentic), "bit \(bit)") {
                    try CipherFileHeader(parsing: bytes, format: format)
                }
            }
        }
    }

    /// File IDs and sealed records moved between files, alone or swapped,
    /// and headers from another volume do not authenticate. A whole header
    /// moved to another file of the same volume does (docs/THREAT-MODEL.md):
    /// the file then reads as that header's size of garbage.
    @Test func transplantedAndSwappedHeadersDoNotAuthenticate() throws {
        let format = try CipherFileFixture.format()
        let a = try CipherFileHeader(fileID: 111 << 64 | 5, size: 3000).encoded(format)
        let b = try CipherFileHeader(fileID: 222 << 64 | 7, size: 3000).encoded(format)
        let other = try CipherFileFixture.format(raw: CipherFileFixture.rawKey.map { $0 ^ 0x80 })
        let otherVolume = try CipherFileHeader(fileID: 111 << 64 | 5, size: 3000).encoded(other)
        let cases: [(String, [UInt8])] = [
            ("a's file ID in b", Array(b[0..<16] + a[16..<32] + b[32..<64])),
            ("a's record in b", Array(b[0..<32] + a[32..<64])),
            ("another volume's header", otherVolume),
        ]
        for (name, bytes) in cases {
            #expect(throws: CipherFileError.corrupt(.notAuthentic), "\(name)") {
                try CipherFileHeader(parsing: bytes, format: format)
            }
        }
        #expect(try CipherFileHeader(parsing: a, format: format).size == 3000, "a whole header authenticates")
    }

    /// A crash between creating the backing file and writing its header
    /// leaves zero bytes: that is an empty file, not a corrupt one.
    @Test(arguments: [1, 2])
    func aZeroLengthBackingFileIsAnEmptyFileThatGetsAHeaderOnItsFirstWrite(version: Int) throws {
        let directory = try CipherFileFixture.Directory()
        let backing = try directory.backingFile("empty")
        let format = try CipherFileFixture.format(version: version)
        let file = try CipherFile.open(descriptor: backing.fd, format: format)
        #expect(file.size == 0)
        #expect(try file.readBytes(count: 10, at: 0) == [])
        #expect(try backing.length() == 0, "reading writes nothing")
        #expect(try CipherFileHeader.read(fromDescriptor: backing.fd, format: format) == nil)
        try file.writeBytes([1, 2, 3], at: 5)
        let reopened = try CipherFile.open(descriptor: backing.fd, format: format)
        #expect(reopened.fileID == file.fileID)
        #expect(try reopened.readAll() == [0, 0, 0, 0, 0, 1, 2, 3])
    }
}
