import Foundation
import Glibc
import KLBlock
import Testing

/// Version 2 headers through a real mount (docs/FORMAT.md, "Header
/// record"): sizes sealed, a fresh file ID on truncation to zero, and
/// damaged, transplanted or swapped headers refused with EIO, one log line
/// and a `klfs fsck` finding each.
@Suite struct MountHeaderTests {
    @Test func backingFilesRevealSizesOnlyToTheSector() throws {
        try withMountedVolume { volume in
            var lengths: Set<Int> = []
            for size in [4097, 6000, 8192] {
                try Data(bytes(size, seed: UInt64(size))).write(to: URL(fileURLWithPath: volume.path("f\(size)")))
                let raw = try backingBytes(volume.backingPath(ofMounted: "f\(size)"))
                lengths.insert(raw.count)
                for needle in [littleEndian(UInt64(size)), littleEndian(UInt32(size))] {
                    #expect(!contains(Array(raw[0..<64]), needle), "size \(size) in clear")
                }
                #expect(try fileSize(volume.path("f\(size)")) == size)
            }
            #expect(lengths == [3 * 4096])
        }
    }

    /// O_TRUNC and ftruncate(0) each draw a fresh file ID, so the same
    /// contents written again are other ciphertext; a shrink to a non-zero
    /// size and regrowing keep the ID.
    @Test func truncatingToZeroThroughTheMountDrawsAFreshFileID() throws {
        try withMountedVolume { volume in
            let contents = bytes(3 * 4096, seed: 9)
            let path = volume.path("f")
            try Data(contents).write(to: URL(fileURLWithPath: path))
            let backing = try volume.backingPath(ofMounted: "f")
            var seen = [try backingBytes(backing)]

            var fd = try posix(open(path, O_WRONLY | O_TRUNC))
            #expect(try backingBytes(backing).count == 64, "emptied to the header alone")
            #expect(pwrite(fd, contents, contents.count, 0) == contents.count)
            close(fd)
            seen.append(try backingBytes(backing))

            fd = try posix(open(path, O_RDWR))
            #expect(ftruncate(fd, 0) == 0)
            #expect(pwrite(fd, contents, contents.count, 0) == contents.count)
            close(fd)
            seen.append(try backingBytes(backing))

            #expect(Set(seen.map { $0[16..<32] }).count == 3, "three file IDs")
            #expect(Set(seen.map { $0[4096...] }).count == 3, "three ciphertexts of the same contents")
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(contents))

            #expect(truncate(path, 1) == 0)
            #expect(truncate(path, 2 * 4096) == 0)
            fd = try posix(open(path, O_WRONLY))
            #expect(pwrite(fd, contents, contents.count, 0) == contents.count)
            close(fd)
            #expect(try backingBytes(backing)[16..<32] == seen[2][16..<32], "a non-zero size keeps the file ID")
        }
    }

    static let damages = [
        "a bit of the sealed record", "a bit of the file ID", "the version byte", "the log2 byte",
        "a's file ID copied into b", "a header from another volume", "a version 1 header",
        "file IDs swapped", "sealed records swapped",
    ]

    @Test(arguments: damages)
    func aDamagedHeaderGivesEIOOneLogLineAndAnFsckFinding(_ damage: String) throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        let log = volume.directory.appendingPathComponent("daemon.log")
        let process = try volume.mountInForeground(logTo: log, extraArguments: ["--engine", "keylocker-soft"])
        let contents = ["a": bytes(5000, seed: 1), "b": bytes(5000, seed: 2), "good": bytes(5000, seed: 3)]
        for (name, data) in contents { try Data(data).write(to: URL(fileURLWithPath: volume.path(name))) }
        let backing = try contents.keys.reduce(into: [String: String]()) { $0[$1] = try volume.backingPath(ofMounted: $1) }
        let (a, b) = (backing["a"]!, backing["b"]!)

        // The mounted names hit, and the finding fsck reports for each.
        let victims: [String: String]
        switch damage {
        case "a bit of the sealed record":
            try flip(b, at: 40)
            victims = ["b": "headerNotAuthentic"]
        case "a bit of the file ID":
            try flip(b, at: 20)
            victims = ["b": "headerNotAuthentic"]
        case "the version byte":
            try write([3], to: b, at: 8)
            victims = ["b": "unknownVersion"]
        case "the log2 byte":
            try write([11], to: b, at: 10)
            victims = ["b": "sectorSizeMismatch"]
        case "a's file ID copied into b":
            try write(Array(try backingBytes(a)[16..<32]), to: b, at: 16)
            victims = ["b": "headerNotAuthentic"]
        case "a header from another volume":
            let other = try VolumeFixture().unlocked()
            try write(try CipherFileHeader(fileID: 1 << 100, size: 5000).encoded(other.fileFormat), to: b, at: 0)
            victims = ["b": "headerNotAuthentic"]
        case "a version 1 header":
            let version1 = CipherFileFormat(sectorSize: .default, key: try volume.unlocked().key, headers: .version1)
            try write(try CipherFileHeader(fileID: 1 << 64, size: 5000).encoded(version1) + [UInt8](repeating: 0, count: 32),
                      to: b, at: 0)
            victims = ["b": "versionMismatch"]
        case "file IDs swapped":
            try exchange(16..<32, a, b)
            victims = ["a": "headerNotAuthentic", "b": "headerNotAuthentic"]
        default:
            try exchange(32..<64, a, b)
            victims = ["a": "headerNotAuthentic", "b": "headerNotAuthentic"]
        }

        for name in contents.keys.sorted() {
            if victims[name] == nil {
                #expect(try Data(contentsOf: URL(fileURLWithPath: volume.path(name))) == Data(contents[name]!), "\(name)")
                continue
            }
            for _ in 0..<3 { #expect(open(volume.path(name), O_RDONLY) == -1 && errno == EIO, "\(name)") }
            #expect(FileManager.default.fileExists(atPath: volume.path(name)), "still listed, so it can be removed")
        }
        #expect(try runKLFS(["unmount", volume.mountPoint]).status == 0)
        process.waitUntilExit()

        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.filter { $0.contains("is not a klfs file") }.count == victims.count, "\(lines)")
        for name in victims.keys {
            let inode = try attributes(backing[name]!).st_ino
            #expect(lines.filter { $0.contains("(inode \(inode))") }.count == 1, "\(name): \(lines)")
        }

        let fsck = try runKLFS(["fsck", volume.cipherDir, "--passfile", volume.passfile, "--json"])
        #expect(fsck.status == 40, "\(fsck.standardError)")
        let report = try JSONSerialization.jsonObject(with: Data(fsck.standardOutput.utf8)) as? [String: Any]
        let findings = (report?["findings"] as? [[String: Any]]) ?? []
        let found = findings.reduce(into: [String: String]()) { found, finding in
            let path = volume.cipherDir + "/" + (finding["path"] as? String ?? "")
            let name = backing.first { $0.value == path }?.key ?? path
            found[name] = finding["kind"] as? String
        }
        #expect(found == victims)
        #expect(report?["formatVersion"] as? Int == 2)
    }

    /// What the seal does not catch (docs/THREAT-MODEL.md): a whole header
    /// moved onto another file of the same volume is authentic. The file
    /// reads as that header's size of garbage, without an error, as any
    /// sector overwritten behind klfs's back does.
    @Test func aWholeHeaderMovedToAnotherFileReadsAsGarbage() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        try volume.requireMount()
        let (first, second) = (bytes(5000, seed: 1), bytes(8000, seed: 2))
        try Data(first).write(to: URL(fileURLWithPath: volume.path("a")))
        try Data(second).write(to: URL(fileURLWithPath: volume.path("b")))
        let (a, b) = (try volume.backingPath(ofMounted: "a"), try volume.backingPath(ofMounted: "b"))
        #expect(try runKLFS(["unmount", volume.mountPoint]).status == 0)
        try write(Array(try backingBytes(a)[0..<64]), to: b, at: 0)

        try volume.requireMount()
        let read = try [UInt8](Data(contentsOf: URL(fileURLWithPath: volume.path("b"))))
        #expect(read.count == 5000)
        #expect(read != first && read != Array(second[0..<5000]))
    }
}

private func backingBytes(_ path: String) throws -> [UInt8] {
    try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
}

private func write(_ bytes: [UInt8], to path: String, at offset: Int) throws {
    let fd = try posix(open(path, O_WRONLY))
    defer { close(fd) }
    #expect(pwrite(fd, bytes, bytes.count, off_t(offset)) == bytes.count)
}

private func flip(_ path: String, at offset: Int) throws {
    try write([try backingBytes(path)[offset] ^ 0x01], to: path, at: offset)
}

private func exchange(_ range: Range<Int>, _ first: String, _ second: String) throws {
    let (one, two) = (Array(try backingBytes(first)[range]), Array(try backingBytes(second)[range]))
    try write(two, to: first, at: range.lowerBound)
    try write(one, to: second, at: range.lowerBound)
}

private func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    (0...(haystack.count - needle.count)).contains { Array(haystack[$0..<$0 + needle.count]) == needle }
}
