import Foundation
import Glibc
import KLBlock
import Testing

/// The cipher dir on an 8 MiB tmpfs, filled up through the mount.
@Suite struct MountFullDiskTests {
    @Test func aFullBackingStoreFailsWritesWithENOSPCAndLosesNothing() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        try volume.putCipherDirOnTmpfs(megabytes: 8)
        defer {
            volume.unmount()  // klfs first: its daemon holds files on the tmpfs
            umount2(volume.cipherDir, Int32(MNT_DETACH))
        }
        try volume.requireMount()

        var kept: [String: [UInt8]] = [:]
        for index in 0..<4 {
            let name = "kept\(index)"
            kept[name] = bytes(300_000 + index * 777, seed: UInt64(index))
            try Data(kept[name]!).write(to: URL(fileURLWithPath: volume.path(name)))
        }

        let chunk = bytes(65_536 + 100, seed: 99)
        let written = try fill(volume.path("filler"), with: chunk)
        #expect(written > 5 << 20)
        #expect(volume.daemonPID() != nil, "the daemon died")

        // More of the same, each refused while the disk is full.
        // An append fills the free bytes of the last sector (a short write),
        // and the next one has nowhere to go.
        let appended = bytes(100_000, seed: 5)
        let landed = append(appended, to: volume.path("kept0"))
        #expect(landed < appended.count)
        kept["kept0"]! += appended.prefix(max(landed, 0))
        #expect(append(appended, to: volume.path("kept0")) == -1 && errno == ENOSPC)
        let created = open(volume.path("new"), O_CREAT | O_WRONLY, 0o600)
        if created >= 0 {
            #expect(pwrite(created, chunk, chunk.count, 0) == -1 && errno == ENOSPC)
            close(created)
        } else {
            #expect(errno == ENOSPC)
            #expect(access(volume.path("new"), F_OK) == -1, "a create that failed left its name behind")
        }

        // Overwriting data already stored needs no new space.
        let inPlace = bytes(5000, seed: 7)
        let keptFD = try posix(open(volume.path("kept1"), O_WRONLY))
        #expect(pwrite(keptFD, inPlace, inPlace.count, 1234) == inPlace.count)
        close(keptFD)
        kept["kept1"]!.replaceSubrange(1234..<6234, with: inPlace)

        let expectFilesIntact = { (when: String) in
            for (name, contents) in kept {
                #expect(FileManager.default.contents(atPath: volume.path(name)) == Data(contents), "\(when): \(name)")
            }
            let filled = FileManager.default.contents(atPath: volume.path("filler")).map(Array.init) ?? []
            #expect(filled.count == written, "\(when): filler size")
            #expect(filled.enumerated().allSatisfy { $1 == chunk[$0 % chunk.count] }, "\(when): filler contents")
        }
        expectFilesIntact("while full")

        #expect(try runKLFS(["unmount", volume.mountPoint]).status == 0)
        #expect(try backingFileProblems(in: volume) == [])
        try volume.requireMount()
        expectFilesIntact("after a remount")

        // Free space and the volume works again.
        #expect(unlink(volume.path("filler")) == 0)
        #expect(append(appended, to: volume.path("kept0")) == appended.count)
    }

    /// fallocate reserves: once it has succeeded, writes in its range
    /// cannot fail for lack of space, however full the disk gets; when the
    /// space is not there it fails with ENOSPC and changes nothing.
    @Test func fallocatedSpaceStaysWritableWhenTheDiskIsFull() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        try volume.putCipherDirOnTmpfs(megabytes: 8)
        defer {
            volume.unmount()
            umount2(volume.cipherDir, Int32(MNT_DETACH))
        }
        try volume.requireMount()

        let reserved = try posix(open(volume.path("reserved"), O_CREAT | O_RDWR, 0o600))
        defer { close(reserved) }
        let twoMegabytes = 2 << 20
        #expect(posix_fallocate(reserved, 0, off_t(twoMegabytes)) == 0)
        #expect(try fileSize(volume.path("reserved")) == twoMegabytes)
        let zeros = read(reserved, at: 0, count: twoMegabytes).allSatisfy { $0 == 0 }
        #expect(zeros)
        #expect(try attributes(volume.backingPath(ofMounted: "reserved")).st_blocks * 512 >= twoMegabytes)

        let tooLarge = try posix(open(volume.path("too-large"), O_CREAT | O_RDWR, 0o600))
        #expect(posix_fallocate(tooLarge, 0, 64 << 20) == ENOSPC)
        close(tooLarge)
        #expect(try fileSize(volume.path("too-large")) == 0)

        _ = try fill(volume.path("filler"), with: bytes(65_536, seed: 98))
        let data = bytes(twoMegabytes, seed: 97)
        #expect(pwrite(reserved, data, data.count, 0) == data.count)
        #expect(fsync(reserved) == 0)
        // Compared outside #expect, which would print 2 MiB arrays on failure.
        let readBack = read(reserved, at: 0, count: twoMegabytes) == data
        #expect(readBack)
    }

    /// Sequential writes of `chunk` to a new file at `path` until the disk
    /// is full (ENOSPC, checked); returns the bytes written.
    private func fill(_ path: String, with chunk: [UInt8]) throws -> Int {
        let filler = try posix(open(path, O_CREAT | O_WRONLY, 0o600))
        defer { close(filler) }
        var written = 0
        var lastErrno: Int32 = 0
        while written < 64 << 20 {
            let result = pwrite(filler, chunk, chunk.count, off_t(written))
            if result <= 0 { lastErrno = errno; break }
            written += result
        }
        #expect(lastErrno == ENOSPC, "the write that failed gave errno \(lastErrno)")
        #expect(fsync(filler) == 0)
        return written
    }

    /// write(2) with O_APPEND: what it returned (errno set when -1).
    private func append(_ data: [UInt8], to path: String) -> Int {
        let fd = open(path, O_WRONLY | O_APPEND)
        guard fd >= 0 else { return -1 }
        defer { close(fd) }
        return write(fd, data, data.count)
    }
}

extension VolumeFixture {
    /// Mounts a tmpfs of `megabytes` over the cipher dir, klfs.conf
    /// carried over; the caller unmounts it (after the klfs mount).
    /// Moves the freshly made volume's files (klfs.conf, the root's
    /// klfs.diriv with encrypted names) onto a tmpfs mounted over the
    /// cipher dir.
    func putCipherDirOnTmpfs(megabytes: Int) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: cipherDir)
        let files = try names.map { ($0, try Data(contentsOf: URL(fileURLWithPath: backingPath($0)))) }
        try #require(Glibc.mount("tmpfs", cipherDir, "tmpfs", 0, "size=\(megabytes)m,mode=0700") == 0,
                     "mount tmpfs: errno \(errno)")
        for (name, contents) in files {
            try contents.write(to: URL(fileURLWithPath: backingPath(name)))
            chmod(backingPath(name), 0o400)
        }
    }
}
