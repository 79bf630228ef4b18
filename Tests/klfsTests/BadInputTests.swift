import Foundation
import Glibc
import KLBlock
import Testing

/// The rows of docs/BAD-INPUT.md that no other suite covers: each bad
/// input gets its message and exit code (or errno), and nothing else is
/// lost.
@Suite struct BadInputTests {
    @Test func anEmptyPassphraseIsRefusedAndMountsNothing() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        let empty = volume.directory.appendingPathComponent("empty").path
        try "\n".write(toFile: empty, atomically: true, encoding: .utf8)
        let result = try runKLFS(["mount", volume.cipherDir, volume.mountPoint, "--passfile", empty])
        #expect(result.status == 14, "\(result.standardError)")
        #expect(result.standardError.contains("empty"), "\(result.standardError)")
        #expect(!volume.isMounted)
        try volume.requireMount()
    }

    @Test func anUnknownFlagIsABadArgument() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        let result = try runKLFS(["mount", volume.cipherDir, volume.mountPoint, "--passfile", volume.passfile, "--bogus"])
        #expect(result.status == 64, "\(result.standardError)")
        #expect(result.standardError.contains("--bogus"), "\(result.standardError)")
        #expect(!volume.isMounted)
    }

    /// Each damaged backing file answers EIO alone; its neighbour reads,
    /// and the damaged one can still be listed and removed.
    @Test(arguments: ["bad magic", "truncated header", "size beyond the data"])
    func aDamagedBackingFileGivesEIOAndTheRestWorks(damage: String) throws {
        // Plaintext names: the test reaches the backing file by its name.
        try withMountedVolume(plaintextNames: true) { volume in
            let good = bytes(9000, seed: 1)
            try Data(good).write(to: URL(fileURLWithPath: volume.path("good")))
            try Data(bytes(9000, seed: 2)).write(to: URL(fileURLWithPath: volume.path("bad")))
            let backing = volume.backingPath("bad")
            let fd = try posix(open(backing, O_RDWR))
            switch damage {
            case "bad magic": #expect(pwrite(fd, "klfs.xyz", 8, 0) == 8)
            case "truncated header": #expect(ftruncate(fd, 20) == 0)
            default: #expect(ftruncate(fd, 2 * 4096) == 0)
            }
            close(fd)
            // The daemon caches nothing about the file once it is closed.
            #expect(open(volume.path("bad"), O_RDONLY) == -1 && errno == EIO, "\(damage)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: volume.mountPoint).sorted() == ["bad", "good"])
            #expect(FileManager.default.contents(atPath: volume.path("good")) == Data(good))
            #expect(unlink(volume.path("bad")) == 0)
        }
    }

    /// The damaged file's one log line: written once, however often the
    /// file is touched (foreground mount, so the log goes to stderr).
    @Test func aDamagedBackingFileIsLoggedOnce() throws {
        let volume = try VolumeFixture(plaintextNames: true)
        defer { volume.unmount() }
        let log = volume.directory.appendingPathComponent("daemon.log")
        let process = try volume.mountInForeground(logTo: log)

        try Data(bytes(9000, seed: 2)).write(to: URL(fileURLWithPath: volume.path("bad")))
        let fd = try posix(open(volume.backingPath("bad"), O_RDWR))
        #expect(pwrite(fd, "klfs.xyz", 8, 0) == 8)
        close(fd)
        for _ in 0..<3 {
            #expect(open(volume.path("bad"), O_RDONLY) == -1 && errno == EIO)
        }
        #expect(try runKLFS(["unmount", volume.mountPoint]).status == 0)
        process.waitUntilExit()
        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.filter { $0.contains("is not a klfs file") }.count == 1, "\(lines)")
    }

    /// XTS has no integrity: a sector of random bytes decrypts to other
    /// random-looking bytes, with no error; the sectors around it are intact.
    @Test func aSectorOfRandomBytesReadsAsGarbageWithoutAnError() throws {
        // Plaintext names: the test reaches the backing file by its name.
        let volume = try VolumeFixture(plaintextNames: true)
        defer { volume.unmount() }
        try volume.requireMount()
        let original = bytes(3 * 4096, seed: 3)
        try Data(original).write(to: URL(fileURLWithPath: volume.path("f")))
        #expect(try runKLFS(["unmount", volume.mountPoint]).status == 0)
        let fd = try posix(open(volume.backingPath("f"), O_WRONLY))
        let noise = bytes(4096, seed: 4)
        #expect(pwrite(fd, noise, 4096, off_t(CipherFileLayout.backingOffset(ofSector: 1, sectorSize: .default))) == 4096)
        close(fd)
        try volume.requireMount()
        let read = try #require(FileManager.default.contents(atPath: volume.path("f")).map(Array.init))
        #expect(read.count == original.count)
        #expect(read[..<4096] == original[..<4096])
        #expect(read[8192...] == original[8192...])
        #expect(read[4096..<8192] != original[4096..<8192])
        #expect(read[4096..<8192] != noise[...], "the garbage is the noise decrypted, not the noise")
    }

    /// The cipher dir removed while mounted: new names fail with ENOENT,
    /// the daemon stays up, and the mount unmounts cleanly.
    @Test func theBackingDirDeletedUnderAMountGivesENOENTAndUnmounts() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        try volume.requireMount()
        try Data("x".utf8).write(to: URL(fileURLWithPath: volume.path("f")))
        let fd = try posix(open(volume.path("f"), O_RDONLY))
        try FileManager.default.removeItem(atPath: volume.cipherDir)
        #expect(open(volume.path("new"), O_CREAT | O_WRONLY, 0o600) == -1 && errno == ENOENT)
        #expect(mkdir(volume.path("dir"), 0o700) == -1 && errno == ENOENT)
        // A file open at the time stays readable, like an unlinked open file.
        #expect(read(fd, at: 0, count: 1) == Array("x".utf8))
        close(fd)
        #expect(volume.daemonPID() != nil, "the daemon died")
        let unmount = try runKLFS(["unmount", volume.mountPoint])
        #expect(unmount.status == 0, "\(unmount.standardError)")
    }

    @Test func aBusyMountPointRefusesToUnmountWith35() throws {
        try withMountedVolume { volume in
            try Data("x".utf8).write(to: URL(fileURLWithPath: volume.path("f")))
            let fd = try posix(open(volume.path("f"), O_RDONLY))
            let busy = try runKLFS(["unmount", volume.mountPoint])
            #expect(busy.status == 35, "\(busy.standardError)")
            #expect(busy.standardError.contains("busy"), "\(busy.standardError)")
            #expect(volume.isMounted)
            #expect(read(fd, at: 0, count: 1) == Array("x".utf8), "the mount still serves")
            close(fd)
            #expect(try runKLFS(["unmount", volume.mountPoint]).status == 0)
        }
    }
}
