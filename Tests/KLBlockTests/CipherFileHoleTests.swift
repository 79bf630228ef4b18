import Glibc
import KLBlock
import Testing
import KLTestSupport

@Suite struct CipherFileHoleTests {
    let sectorSize = SectorSize(bytes: 4096)!

    @Test func aGigabyteTruncateExtendStaysSparseAndReadsZeros() throws {
        let directory = try CipherFileFixture.Directory()
        let backing = try directory.backingFile("sparse")
        let file = try CipherFile.create(descriptor: backing.fd, format: CipherFileFixture.format(sectorSize))
        let gigabyte = 1 << 30
        try file.truncate(to: gigabyte)
        #expect(file.size == gigabyte)
        #expect(try backing.status().size == gigabyte + 4096)
        #expect(try backing.status().blocks <= 8, "header block only")
        #expect(try file.readBytes(count: 3 * 4096 + 100, at: gigabyte / 2 - 50) == [UInt8](repeating: 0, count: 3 * 4096 + 100))
        #expect(try file.readBytes(count: 10, at: gigabyte - 5) == [UInt8](repeating: 0, count: 5))

        try file.writeBytes([1, 2, 3], at: gigabyte / 2 + 1)
        #expect(try backing.status().blocks <= 16, "header and one data block")
        #expect(try file.readBytes(count: 5, at: gigabyte / 2) == [0, 1, 2, 3, 0])
        #expect(try file.readBytes(count: 4096, at: gigabyte / 2 - 4096) == [UInt8](repeating: 0, count: 4096))
    }

    @Test func allocatingReservesTheSectorsReadsZerosAndNeverShrinks() throws {
        let directory = try CipherFileFixture.Directory()
        let backing = try directory.backingFile("allocate")
        let file = try CipherFile.create(descriptor: backing.fd, format: CipherFileFixture.format(sectorSize))
        let data = [UInt8](repeating: 0x5A, count: 10_000)
        try file.writeBytes(data, at: 0)
        try file.allocate(100..<5000)
        #expect(file.size == 10_000)
        #expect(try file.readBytes(count: 10_000, at: 0) == data)
        let megabyte = 1 << 20
        try file.allocate(8000..<megabyte)
        #expect(file.size == megabyte)
        let readBack = try file.readBytes(count: megabyte, at: 0) == data + [UInt8](repeating: 0, count: megabyte - 10_000)
        #expect(readBack)
        #expect(try backing.status().size == 4096 + megabyte)
        #expect(try backing.status().blocks * 512 >= 4096 + megabyte, "every sector reserved, not a hole")
    }

    @Test func aWritePastTheEndLeavesHoles() throws {
        let directory = try CipherFileFixture.Directory()
        let backing = try directory.backingFile("gap")
        let file = try CipherFile.create(descriptor: backing.fd, format: CipherFileFixture.format(sectorSize))
        try file.writeBytes([UInt8](repeating: 0xAA, count: 100), at: 0)
        let far = 64 << 20
        try file.writeBytes([0xBB], at: far)
        #expect(file.size == far + 1)
        #expect(try backing.status().blocks <= 24, "header, sector 0 and the last sector only")
        var expected = [UInt8](repeating: 0xAA, count: 100) + [UInt8](repeating: 0, count: 8092)
        #expect(try file.readBytes(count: 8192, at: 0) == expected)
        expected = [UInt8](repeating: 0, count: 4095) + [0xBB]
        #expect(try file.readBytes(count: 5000, at: far - 4095) == expected)
        let rawMiddle = try backing.rawBytes()[(1 << 20)..<(2 << 20)]
        #expect(rawMiddle.allSatisfy { $0 == 0 }, "skipped sectors are never written")
    }

    @Test(arguments: [512, 4096], [1, 2])
    func shrinkThenGrowReadsZeros(sectorBytes: Int, version: Int) throws {
        let format = try CipherFileFixture.format(SectorSize(bytes: sectorBytes)!, version: version)
        let directory = try CipherFileFixture.Directory()
        let backing = try directory.backingFile("shrink")
        let file = try CipherFile.create(descriptor: backing.fd, format: format)
        var generator = SeededGenerator(seed: 4)
        let original = CipherFileFixture.randomBytes(3 * sectorBytes + 100, using: &generator)
        try file.writeBytes(original, at: 0)
        for newSize in [2 * sectorBytes + 1, sectorBytes + 10, sectorBytes, 7, 0] {
            try file.truncate(to: newSize)
            #expect(try backing.length() == format.minimumBackingLength(forSize: newSize))
            // On disk, the new last sector holds zeros past the size.
            let wholeSectors = try CipherFileFormatTests.decryptByTheDocument(backing.rawBytes(), masterKey: CipherFileFixture.rawKey,
                                                                              throughLastSector: true)
            #expect(wholeSectors[newSize...].allSatisfy { $0 == 0 }, "tail of the last sector after shrinking to \(newSize)")
            try file.truncate(to: 3 * sectorBytes)
            let expected = Array(original[0..<newSize]) + [UInt8](repeating: 0, count: 3 * sectorBytes - newSize)
            #expect(try file.readAll() == expected, "shrunk to \(newSize)")
            let reopened = try CipherFile.open(descriptor: backing.fd, format: format)
            #expect(try reopened.readAll() == expected, "shrunk to \(newSize), reopened")
            try file.writeBytes(original, at: 0)
        }
    }

    /// A crash after a write's sectors landed but before its size did
    /// leaves data past the size on disk; growing the file must still
    /// show zeros there.
    @Test(arguments: [1, 2])
    func growingAfterATornWriteShowsZeros(version: Int) throws {
        let format = try CipherFileFixture.format(SectorSize(bytes: 512)!, version: version)
        let directory = try CipherFileFixture.Directory()
        let backing = try directory.backingFile("torn")
        let file = try CipherFile.create(descriptor: backing.fd, format: format)
        try file.writeBytes([UInt8](repeating: 0xAA, count: 100), at: 0)
        let sizeRecord = format.headers.sizeRecord
        let recordOf100 = Array(try backing.rawBytes()[sizeRecord])
        try file.writeBytes([UInt8](repeating: 0xBB, count: 2000), at: 50)
        // The size write "never happened": size 100, data up to 2050 on disk.
        backing.overwrite(recordOf100, at: sizeRecord.lowerBound)

        for grow in [{ (file: CipherFile) in try file.truncate(to: 3000) },
                     { (file: CipherFile) in try file.writeBytes([0xCC], at: 2999) }] {
            let reopened = try CipherFile.open(descriptor: backing.fd, format: format)
            #expect(reopened.size == 100)
            try grow(reopened)
            let contents = try reopened.readAll()
            #expect(contents[0..<50].allSatisfy { $0 == 0xAA })
            #expect(contents[50..<100].allSatisfy { $0 == 0xBB })
            #expect(contents[100..<2999].allSatisfy { $0 == 0 })
            try reopened.truncate(to: 100)
        }
    }
}
