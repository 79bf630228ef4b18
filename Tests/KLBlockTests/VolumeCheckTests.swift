import Foundation
import Glibc
@testable import KLBlock
import KLEngine
import Testing

/// fsck of backing files: what a clean volume reports, and each kind of
/// damage the format lets it see.
@Suite struct VolumeCheckTests {
    @Test(arguments: [512, 4096])
    func aCleanVolumeHasNoFindings(sectorBytes: Int) throws {
        let fixture = try VolumeCheckFixture(sectorSize: SectorSize(bytes: sectorBytes)!)
        let s = sectorBytes
        let sizes = [1, 15, s - 1, s, s + 1, 3 * s + 7]
        for size in sizes { try fixture.makeFile("sizes/\(size)", VolumeCheckFixture.pattern(size)) }
        try fixture.makeFile("header-only", [])
        _ = fixture.directory.write("cipher/never-written", [])
        // A hole between two written sectors.
        try fixture.withFile("sparse", create: true) { file in
            _ = try [UInt8]([7]).withUnsafeBytes { try file.write($0, at: 0) }
            _ = try [UInt8]([9, 9]).withUnsafeBytes { try file.write($0, at: 2 * s + 100) }
        }
        // What the mount hides and stores as they are: not backing files.
        _ = fixture.directory.write("cipher/klfs.conf.tmp.1f2e", Array("left by a crashed passwd".utf8))
        symlink("/etc", fixture.cipherDir + "/sizes/link")
        mkfifo(fixture.cipherDir + "/fifo", 0o600)

        let report = try fixture.check()
        #expect(report.findings == [])
        #expect(report.isClean)
        #expect(report.counts.files == sizes.count + 3)
        #expect(report.counts.emptyFiles == 1)
        #expect(report.counts.directories == 1)
        #expect(report.counts.otherEntries == 2)
        #expect(report.counts.holes == 1)
        let sectorCounts = (sizes + [2 * s + 102]).map { CipherFileLayout.sectorCount(forSize: $0, sectorSize: fixture.volume.sectorSize) }
        #expect(report.counts.sectors == sectorCounts.reduce(0, +))
        #expect(report.summary.hasPrefix("clean: 0 problems, 0 notices; checked klfs.conf (format version 2), "))
        #expect(report.formatVersion == 2)
    }

    /// One damaged header byte range per case (XORed with `flip`), and the
    /// finding it must cause.
    struct HeaderCase: CustomTestStringConvertible, Sendable {
        let name: String
        let offset: Int
        let flip: [UInt8]
        let kind: CheckFinding.Kind
        var testDescription: String { name }
    }

    static let headerCases: [HeaderCase] = [
        HeaderCase(name: "bad magic", offset: 0, flip: [0x20, 0x20, 0x20, 0x20], kind: .badMagic),
        HeaderCase(name: "version 7", offset: 8, flip: [5, 0], kind: .unknownVersion),
        HeaderCase(name: "version 1", offset: 8, flip: [3, 0], kind: .versionMismatch),
        HeaderCase(name: "sector size byte 8", offset: 10, flip: [12 ^ 8], kind: .invalidSectorSize),
        HeaderCase(name: "sector size byte 200", offset: 10, flip: [12 ^ 200], kind: .invalidSectorSize),
        HeaderCase(name: "another valid sector size", offset: 10, flip: [12 ^ 9], kind: .sectorSizeMismatch),
        HeaderCase(name: "reserved byte set", offset: 13, flip: [1], kind: .reservedBytesSet),
        HeaderCase(name: "a bit of the file ID", offset: 20, flip: [0x10], kind: .headerNotAuthentic),
        HeaderCase(name: "a bit of the sealed record", offset: 40, flip: [0x01], kind: .headerNotAuthentic),
        HeaderCase(name: "unused header slot written", offset: 1000, flip: [1], kind: .headerSlotNotZero),
    ]

    @Test(arguments: headerCases)
    func eachHeaderCorruptionIsReported(_ damage: HeaderCase) throws {
        let fixture = try VolumeCheckFixture()
        try fixture.makeFile("a/victim", VolumeCheckFixture.pattern(5000))
        try fixture.makeFile("a/bystander", VolumeCheckFixture.pattern(5000, seed: 2))
        let range = damage.offset..<damage.offset + damage.flip.count
        fixture.overwrite("a/victim", at: damage.offset,
                          with: zip(try fixture.bytes("a/victim", range), damage.flip).map { $0 ^ $1 })
        let report = try fixture.check()
        #expect(report.kinds == [damage.kind])
        #expect(report.findings.first?.path == "a/victim")
        #expect(report.findings.first?.severity == .damage)
        #expect(!report.isClean)
        #expect(report.summary.hasPrefix("damaged: 1 problem, 0 notices"))
    }

    /// File IDs and sealed records moved between files, alone or swapped,
    /// a header of another volume, and a version 1 header on this version
    /// 2 volume: each file concerned is reported, and only those.
    @Test func transplantedAndSwappedHeadersAreReported() throws {
        let fixture = try VolumeCheckFixture()
        let foreign = try VolumeCheckFixture()
        for name in ["ids/a", "ids/b", "records/a", "records/b", "copied/a", "copied/b", "foreign", "version1", "fine"] {
            try fixture.makeFile(name, VolumeCheckFixture.pattern(5000))
        }
        try foreign.makeFile("f", VolumeCheckFixture.pattern(5000))
        func exchange(_ range: Range<Int>, _ first: String, _ second: String) throws {
            let (one, two) = (try fixture.bytes(first, range), try fixture.bytes(second, range))
            fixture.overwrite(first, at: range.lowerBound, with: two)
            fixture.overwrite(second, at: range.lowerBound, with: one)
        }
        try exchange(16..<32, "ids/a", "ids/b")
        try exchange(32..<64, "records/a", "records/b")
        fixture.overwrite("copied/b", at: 16, with: try fixture.bytes("copied/a", 16..<32))
        fixture.overwrite("foreign", at: 0, with: try foreign.bytes("f", 0..<64))
        let version1 = CipherFileFormat(sectorSize: .default, key: fixture.volume.key, headers: .version1)
        fixture.overwrite("version1", at: 0, with: try CipherFileHeader(fileID: 5 << 64, size: 5000).encoded(version1)
                                                     + [UInt8](repeating: 0, count: 32))
        let report = try fixture.check()
        #expect(report.findings.map { "\($0.path): \($0.kind)" } == [
            "copied/b: headerNotAuthentic",
            "foreign: headerNotAuthentic",
            "ids/a: headerNotAuthentic", "ids/b: headerNotAuthentic",
            "records/a: headerNotAuthentic", "records/b: headerNotAuthentic",
            "version1: versionMismatch",
        ])
        #expect(report.findings.first?.message
            == "corrupt header: header does not authenticate (edited, or taken from another file or volume)")
        #expect(report.findings.last?.message == "corrupt header: version 1 header on a version 2 volume")
    }

    /// A size beyond the format can only be sealed with the header key.
    @Test func aSealedSizeBeyondTheFormatIsReported() throws {
        let fixture = try VolumeCheckFixture()
        try fixture.makeFile("huge", VolumeCheckFixture.pattern(10))
        let header = CipherFileHeader(fileID: 77, size: .max)
        fixture.overwrite("huge", at: 0, with: try header.encoded(fixture.volume.fileFormat))
        #expect(try fixture.check().kinds == [.sizeOutOfRange])
    }

    /// The sealed header does not catch a whole header moved onto another
    /// file of the same volume: it is authentic. Its sectors then decrypt
    /// under another file ID to garbage, which fsck sees only where the
    /// last sector's padding is (here: nowhere, the sizes fill whole
    /// sectors).
    @Test func aWholeHeaderMovedWithinTheVolumeCannotBeSeen() throws {
        let fixture = try VolumeCheckFixture()
        try fixture.makeFile("a", VolumeCheckFixture.pattern(2 * 4096))
        try fixture.makeFile("b", VolumeCheckFixture.pattern(2 * 4096, seed: 2))
        fixture.overwrite("b", at: 0, with: try fixture.bytes("a", 0..<64))
        #expect(try fixture.check().isClean)
        var read: [UInt8] = []
        try fixture.withFile("b") { file in read = try file.readAll() }
        #expect(read.count == 2 * 4096)
        #expect(read != VolumeCheckFixture.pattern(2 * 4096, seed: 2) && read != VolumeCheckFixture.pattern(2 * 4096))
    }

    @Test func aTruncatedHeaderIsReported() throws {
        let fixture = try VolumeCheckFixture()
        try fixture.makeFile("cut", VolumeCheckFixture.pattern(10))
        fixture.setLength("cut", 20)
        let report = try fixture.check()
        #expect(report.kinds == [.truncatedHeader])
        #expect(report.findings.first?.message == "corrupt header: header truncated to 20 of 64 bytes")
    }

    @Test func aSizeBeyondTheDataIsReported() throws {
        let fixture = try VolumeCheckFixture()
        try fixture.makeFile("short", VolumeCheckFixture.pattern(3 * 4096))
        fixture.setLength("short", 3 * 4096)
        let report = try fixture.check()
        #expect(report.kinds == [.sizeBeyondData])
        #expect(report.findings.first?.message
            == "corrupt header: size 12288 needs a backing file of at least 16384 bytes, it has 12288")
    }

    /// What a crash between a write's data and its size leaves: the new
    /// bytes sit after the old size in the old last sector.
    @Test func aTornLastWriteShowsInThePadding() throws {
        let fixture = try VolumeCheckFixture()
        try fixture.makeFile("torn", VolumeCheckFixture.pattern(5000))
        let sizeRecord = fixture.volume.fileFormat.headers.sizeRecord
        let oldSizeRecord = try fixture.bytes("torn", sizeRecord)
        try fixture.withFile("torn") { file in
            _ = try VolumeCheckFixture.pattern(100, seed: 3).withUnsafeBytes { try file.append($0) }
        }
        fixture.overwrite("torn", at: sizeRecord.lowerBound, with: oldSizeRecord)
        let report = try fixture.check()
        #expect(report.kinds == [.tornLastSector])
        #expect(report.findings.first?.sector == 1)
        #expect(report.findings.first?.message
            == "damaged (torn or overwritten) last sector 1: its 3192 bytes past the size 5000 do not decrypt to zeros")
    }

    @Test(arguments: [512, 4096])
    func aRandomlyOverwrittenLastSectorIsReported(sectorBytes: Int) throws {
        let fixture = try VolumeCheckFixture(sectorSize: SectorSize(bytes: sectorBytes)!)
        try fixture.makeFile("victim", VolumeCheckFixture.pattern(2 * sectorBytes + 1))
        fixture.overwrite("victim", at: 3 * sectorBytes, with: VolumeCheckFixture.pattern(sectorBytes, seed: 9))
        let report = try fixture.check()
        #expect(report.kinds == [.tornLastSector])
        #expect(report.findings.first?.sector == 2)
    }

    /// XTS has no integrity: an overwritten sector that is not the last
    /// one, or a last sector the size fills, decrypts to garbage unnoticed.
    @Test func anOverwrittenFullSectorCannotBeSeen() throws {
        let fixture = try VolumeCheckFixture()
        try fixture.makeFile("victim", VolumeCheckFixture.pattern(2 * 4096 + 10))
        try fixture.makeFile("full", VolumeCheckFixture.pattern(2 * 4096))
        fixture.overwrite("victim", at: 4096, with: VolumeCheckFixture.pattern(4096, seed: 9))
        fixture.overwrite("full", at: 2 * 4096, with: VolumeCheckFixture.pattern(4096, seed: 10))
        #expect(try fixture.check().isClean)
    }

    /// Left by an interrupted write that grew the file: valid, but worth a line.
    @Test func extraLengthIsANotice() throws {
        let fixture = try VolumeCheckFixture()
        try fixture.makeFile("long", VolumeCheckFixture.pattern(100))
        fixture.setLength("long", 5 * 4096 + 3)
        let report = try fixture.check()
        #expect(report.kinds == [.extraLength])
        #expect(report.findings.first?.severity == .notice)
        #expect(report.isClean)
        #expect(report.summary.hasPrefix("clean: 0 problems, 1 notice;"))
    }

    @Test func symlinksAreNeverFollowed() throws {
        let fixture = try VolumeCheckFixture()
        let outside = fixture.directory.subdirectory("outside")
        _ = fixture.directory.write("outside/garbage", Array("not a klfs file".utf8))
        symlink(outside, fixture.cipherDir + "/escape")
        let report = try fixture.check()
        #expect(report.findings == [])
        #expect(report.counts.otherEntries == 1)
        #expect(report.counts.files == 0)
    }

    @Test func findingsComeInPathOrderAndNamesCannotForgeLines() throws {
        let fixture = try VolumeCheckFixture()
        for name in ["b", "a\nclean: fake"] {
            _ = fixture.directory.write("cipher/" + name, Array("junk that is not a klfs header at all".utf8))
        }
        let report = try fixture.check()
        #expect(report.findings.map(\.path) == ["a\nclean: fake", "b"])
        #expect(report.findings.map(\.description) == [
            "a\\nclean: fake: corrupt header: bad magic",
            "b: corrupt header: bad magic",
        ])
    }

    /// SEEK_DATA steps over the backing file's holes: a terabyte of them
    /// is counted, not read.
    @Test func aTerabyteOfHolesIsCountedWithoutReadingIt() throws {
        let fixture = try VolumeCheckFixture()
        let size = 1 << 40
        try fixture.withFile("sparse", create: true) { file in
            try file.truncate(to: size)
            _ = try [UInt8]([1, 2, 3]).withUnsafeBytes { try file.write($0, at: size - 4) }
        }
        let started = ContinuousClock.now
        let report = try fixture.check()
        #expect(report.findings == [])
        #expect(report.counts.sectors == size / 4096)
        #expect(report.counts.holes == size / 4096 - 1)
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func progressCoversEveryBackingByteOnce() throws {
        let fixture = try VolumeCheckFixture()
        for index in 0..<5 { try fixture.makeFile("f\(index)", VolumeCheckFixture.pattern(100_000 * index)) }
        var seen: [CheckProgress] = []
        _ = try VolumeCheck(cipherDir: fixture.cipherDir, volume: fixture.volume).run { seen.append($0) }
        let total = (0..<5).map { fixture.length("f\($0)") }.reduce(0, +)
        #expect(seen.first?.bytesDone == 0)
        #expect(seen.allSatisfy { $0.bytesTotal == total && $0.filesTotal == 5 })
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.bytesDone <= $1.bytesDone })
        #expect(seen.last?.bytesDone == total)
        #expect(seen.last?.filesDone == 5)
        #expect(seen.last?.fraction == 1)
    }
}
