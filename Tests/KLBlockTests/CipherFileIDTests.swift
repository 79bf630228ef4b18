import KLBlock
import KLTestSupport
import Testing

/// The file ID in every sector's tweak, and version 2's fresh file ID on a
/// truncation to zero (docs/FORMAT.md, "A fresh file ID on truncation to
/// zero").
@Suite struct CipherFileIDTests {
    static let contents = [UInt8](repeating: 0x42, count: 2 * 4096 + 100)

    /// A new file of a volume of format `version`, holding ``contents``.
    final class WrittenFile {
        let directory: CipherFileFixture.Directory
        let backing: CipherFileFixture.Descriptor
        let format: CipherFileFormat
        let file: CipherFile

        init(version: Int = 2) throws {
            directory = try CipherFileFixture.Directory()
            backing = try directory.backingFile("f")
            format = try CipherFileFixture.format(version: version)
            file = try CipherFile.create(descriptor: backing.fd, format: format)
            try file.writeBytes(CipherFileIDTests.contents, at: 0)
        }
    }

    /// After a truncate to zero the same contents written again give other
    /// ciphertext: snapshots taken before and after cannot be compared
    /// block by block.
    @Test func aTruncateToZeroDrawsAFreshFileIDOnVersion2() throws {
        let f = try WrittenFile()
        let before = (id: f.file.fileID, raw: try f.backing.rawBytes())

        try f.file.truncate(to: 0)
        #expect(f.file.fileID != before.id)
        #expect(try f.backing.length() == 64)
        #expect(try CipherFileHeader.read(fromDescriptor: f.backing.fd, format: f.format)
            == CipherFileHeader(fileID: f.file.fileID, size: 0))
        #expect(try CipherFile.open(descriptor: f.backing.fd, format: f.format).fileID == f.file.fileID)

        try f.file.writeBytes(Self.contents, at: 0)
        let after = try f.backing.rawBytes()
        #expect(after.count == before.raw.count)
        let unchangedBlocks = stride(from: 4096, to: after.count, by: 16).count { offset in
            after[offset..<offset + 16] == before.raw[offset..<offset + 16]
        }
        #expect(unchangedBlocks == 0)
        #expect(try CipherFileFormatTests.decryptByTheDocument(after, masterKey: CipherFileFixture.rawKey) == Self.contents)
    }

    /// Only zero renews the ID: a shrink to a smaller size keeps it, so the
    /// surviving sectors stay readable, and regrowing keeps it too.
    @Test func shrinkingToANonZeroSizeAndRegrowingKeepsTheFileID() throws {
        let f = try WrittenFile()
        let id = f.file.fileID
        try f.file.truncate(to: 1)
        try f.file.truncate(to: 5000)
        try f.file.writeBytes([9], at: 9000)
        #expect(f.file.fileID == id)
        #expect(try f.file.readBytes(count: 2, at: 0) == [0x42, 0])
    }

    /// Version 1 keeps its nonce for the file's life, as it always did.
    @Test func aVersion1FileKeepsItsNonceWhenTruncatedToZero() throws {
        let f = try WrittenFile(version: 1)
        let id = f.file.fileID
        try f.file.truncate(to: 0)
        #expect(f.file.fileID == id)
        #expect(try f.backing.length() == 32)
        #expect(try CipherFile.open(descriptor: f.backing.fd, format: f.format).fileID == id)
    }

    /// A crash between writing the fresh header and cutting the backing
    /// file leaves size 0 over the old sectors: an empty file with extra
    /// length, whose old sectors never come back.
    @Test func aCrashBeforeTheCutLeavesAValidEmptyFile() throws {
        let f = try WrittenFile()
        let old = try f.backing.rawBytes()
        try f.file.truncate(to: 0)
        f.backing.overwrite(Array(old[4096...]), at: 4096)

        let reopened = try CipherFile.open(descriptor: f.backing.fd, format: f.format)
        #expect(reopened.size == 0)
        try reopened.writeBytes([1], at: 3 * 4096)
        #expect(try reopened.readAll() == [UInt8](repeating: 0, count: 3 * 4096) + [1])
        #expect(try f.backing.length() == 5 * 4096)
    }
}
