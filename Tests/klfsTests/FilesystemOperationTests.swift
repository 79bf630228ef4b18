import CFuse
import Foundation
import Glibc
import KLBlock
import Testing
import KLTestSupport

/// Every FUSE operation, through a real mount, with plain POSIX calls, on
/// a volume with encrypted names and on one with plaintext names.
@Suite struct FilesystemOperationTests {
    @Test(arguments: [false, true]) func filesReadWriteTruncateAppendAndSync(plaintextNames: Bool) throws {
        try withMountedVolume(plaintextNames: plaintextNames) { volume in
            let path = volume.path("file")
            var fd = try posix(open(path, O_CREAT | O_EXCL | O_RDWR, 0o640))
            let first = bytes(10_000, seed: 1)
            #expect(pwrite(fd, first, first.count, 0) == first.count)
            #expect(try fileSize(path) == 10_000)
            #expect(read(fd, at: 4090, count: 20) == Array(first[4090..<4110]))
            #expect(fsync(fd) == 0)
            #expect(fdatasync(fd) == 0)
            #expect(ftruncate(fd, 5000) == 0)
            #expect(try fileSize(path) == 5000)
            #expect(ftruncate(fd, 9000) == 0)
            #expect(read(fd, at: 0, count: 9000) == Array(first[..<5000]) + [UInt8](repeating: 0, count: 4000))
            #expect(close(fd) == 0)

            // O_EXCL on an existing file, O_APPEND, O_TRUNC.
            #expect(open(path, O_CREAT | O_EXCL | O_RDWR, 0o640) == -1 && errno == EEXIST)
            fd = try posix(open(path, O_WRONLY | O_APPEND))
            let tail = bytes(100, seed: 2)
            #expect(write(fd, tail, tail.count) == 100)
            close(fd)
            #expect(try fileSize(path) == 9100)
            #expect(try Array(Data(contentsOf: URL(fileURLWithPath: path)).suffix(100)) == tail)
            fd = try posix(open(path, O_WRONLY | O_TRUNC))
            close(fd)
            #expect(try fileSize(path) == 0)
            #expect(truncate(path, 4097) == 0)
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(count: 4097))

            // posix_fallocate (fallocate mode 0) grows with zeros.
            fd = try posix(open(path, O_RDWR))
            #expect(posix_fallocate(fd, 8000, 2000) == 0)
            close(fd)
            #expect(try fileSize(path) == 10_000)
        }
    }

    @Test(arguments: [false, true]) func attributesAccessAndStatfs(plaintextNames: Bool) throws {
        try withMountedVolume(plaintextNames: plaintextNames) { volume in
            let path = volume.path("attrs")
            try Data("x".utf8).write(to: URL(fileURLWithPath: path))
            #expect(chmod(path, 0o600) == 0)
            #expect(try attributes(path).st_mode & 0o7777 == 0o600)
            #expect(chown(path, 1234, 5678) == 0)
            let owned = try attributes(path)
            #expect(owned.st_uid == 1234 && owned.st_gid == 5678)
            var times = [timespec(tv_sec: 1_000_000, tv_nsec: 5), timespec(tv_sec: 2_000_000, tv_nsec: 7)]
            #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
            let timed = try attributes(path)
            #expect(timed.st_atim.tv_sec == 1_000_000 && timed.st_mtim.tv_sec == 2_000_000)
            #expect(timed.st_mtim.tv_nsec == 7)
            #expect(access(path, F_OK) == 0)
            #expect(access(path, R_OK | W_OK) == 0)
            #expect(access(path, X_OK) == -1 && errno == EACCES)
            #expect(access(volume.path("missing"), F_OK) == -1 && errno == ENOENT)
            var info = statvfs()
            #expect(statvfs(volume.mountPoint, &info) == 0)
            #expect(info.f_blocks > 0)
        }
    }

    @Test(arguments: [false, true]) func directoriesListingAndTheHiddenConfig(plaintextNames: Bool) throws {
        try withMountedVolume(plaintextNames: plaintextNames) { volume in
            let directory = volume.path("dir")
            #expect(mkdir(directory, 0o755) == 0)
            let names = (0..<300).map { "entry-\($0)-" + String(repeating: "n", count: $0 % 40) }
            for name in names { try Data().write(to: URL(fileURLWithPath: directory + "/" + name)) }
            #expect(try Set(FileManager.default.contentsOfDirectory(atPath: directory)) == Set(names))
            // fsyncdir.
            let dirFD = try posix(open(directory, O_RDONLY | O_DIRECTORY))
            #expect(fsync(dirFD) == 0)
            close(dirFD)
            #expect(rmdir(directory) == -1 && errno == ENOTEMPTY)
            for name in names { #expect(unlink(directory + "/" + name) == 0) }
            #expect(rmdir(directory) == 0)

            // klfs.conf (and klfs.diriv) is neither listed nor reachable.
            #expect(try FileManager.default.contentsOfDirectory(atPath: volume.mountPoint).isEmpty)
            let config = volume.path("klfs.conf")
            #expect(access(config, F_OK) == -1 && errno == ENOENT)
            let realConfig = try Data(contentsOf: URL(fileURLWithPath: volume.backingPath("klfs.conf")))
            if plaintextNames {
                // Nor creatable: the plaintext name would be the config's.
                #expect(open(config, O_CREAT | O_RDWR, 0o600) == -1 && errno == EPERM)
                #expect(mkdir(config, 0o700) == -1 && errno == EPERM)
            } else {
                // An encrypted name never collides with it: an ordinary file.
                try Data("mine".utf8).write(to: URL(fileURLWithPath: config))
                #expect(try String(contentsOfFile: config, encoding: .utf8) == "mine")
                #expect(unlink(config) == 0)
            }
            #expect(try Data(contentsOf: URL(fileURLWithPath: volume.backingPath("klfs.conf"))) == realConfig)
        }
    }

    @Test(arguments: [false, true]) func renamesWithNoReplaceAndExchange(plaintextNames: Bool) throws {
        try withMountedVolume(plaintextNames: plaintextNames) { volume in
            let a = volume.path("a"), b = volume.path("b"), c = volume.path("c")
            try Data("A".utf8).write(to: URL(fileURLWithPath: a))
            try Data("B".utf8).write(to: URL(fileURLWithPath: b))
            let inodeOfA = try attributes(a).st_ino
            #expect(cfuse_renameat2(AT_FDCWD, a, AT_FDCWD, b, cfuse_rename_noreplace) == -1 && errno == EEXIST)
            #expect(cfuse_renameat2(AT_FDCWD, a, AT_FDCWD, b, cfuse_rename_exchange) == 0)
            #expect(try String(contentsOfFile: a, encoding: .utf8) == "B")
            #expect(try String(contentsOfFile: b, encoding: .utf8) == "A")
            #expect(try attributes(b).st_ino == inodeOfA)
            #expect(rename(b, c) == 0)
            #expect(try attributes(c).st_ino == inodeOfA)
            #expect(try String(contentsOfFile: c, encoding: .utf8) == "A")
            if plaintextNames {
                #expect(rename(c, volume.path("klfs.conf")) == -1 && errno == EPERM)
            }
        }
    }

    /// As on tmpfs: a directory replaces an empty one (in the same
    /// directory or across, to and from long names) and no other; a
    /// directory cannot replace a file, nor a file a directory.
    @Test(arguments: [false, true]) func aDirectoryReplacesOnlyAnEmptyDirectory(plaintextNames: Bool) throws {
        try withMountedVolume(plaintextNames: plaintextNames) { volume in
            let long = String(repeating: "l", count: 200)
            for name in ["source", "empty", "full", "full/inside", "other", "other/" + long, "moved-" + long] {
                #expect(mkdir(volume.path(name), 0o755) == 0)
            }
            try Data("kept".utf8).write(to: URL(fileURLWithPath: volume.path("source/kept")))
            let moved = try attributes(volume.path("source")).st_ino

            #expect(rename(volume.path("source"), volume.path("empty")) == 0)
            #expect(rename(volume.path("empty"), volume.path("other/" + long)) == 0)
            #expect(rename(volume.path("other/" + long), volume.path("moved-" + long)) == 0)
            let destination = volume.path("moved-" + long)
            #expect(try attributes(destination).st_ino == moved)
            #expect(try String(contentsOfFile: destination + "/kept", encoding: .utf8) == "kept")

            try Data().write(to: URL(fileURLWithPath: volume.path("file")))
            #expect(rename(destination, volume.path("full")) == -1 && errno == ENOTEMPTY)
            #expect(rename(destination, volume.path("file")) == -1 && errno == ENOTDIR)
            #expect(rename(volume.path("file"), volume.path("full/inside")) == -1 && errno == EISDIR)

            #expect(try FileManager.default.contentsOfDirectory(atPath: volume.mountPoint).sorted()
                    == ["file", "full", "moved-" + long, "other"])
            #expect(try FileManager.default.contentsOfDirectory(atPath: volume.path("other")) == [])
            // Nothing left behind: no IV nor sidecar of a name that went.
            let otherBacking = try volume.backingPath(ofMounted: "other")
            #expect(try FileManager.default.contentsOfDirectory(atPath: otherBacking)
                    == (plaintextNames ? [] : [DirectoryIV.fileName]))
            let sidecars = try FileManager.default.contentsOfDirectory(atPath: volume.cipherDir).filter(LongName.isSidecar)
            #expect(sidecars.count == (plaintextNames ? 0 : 1))
        }
    }

    @Test(arguments: [false, true]) func linksSymlinksFifosAndMknod(plaintextNames: Bool) throws {
        try withMountedVolume(plaintextNames: plaintextNames) { volume in
            let file = volume.path("file"), hard = volume.path("hard"), soft = volume.path("soft")
            try Data("linked".utf8).write(to: URL(fileURLWithPath: file))
            #expect(link(file, hard) == 0)
            let original = try attributes(file), linked = try attributes(hard)
            #expect(original.st_ino == linked.st_ino)
            #expect(linked.st_nlink == 2)
            #expect(symlink("file", soft) == 0)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: soft) == "file")
            #expect(try String(contentsOfFile: soft, encoding: .utf8) == "linked")
            #expect(try attributes(soft, follow: false).st_mode & S_IFMT == S_IFLNK)
            #expect(try attributes(soft, follow: false).st_size == 4)

            let fifo = volume.path("fifo")
            #expect(mkfifo(fifo, 0o600) == 0)
            #expect(try attributes(fifo).st_mode & S_IFMT == S_IFIFO)
            let regular = volume.path("made-by-mknod")
            #expect(mknod(regular, S_IFREG | 0o600, 0) == 0)
            #expect(try fileSize(regular) == 0)
            try Data("now written".utf8).write(to: URL(fileURLWithPath: regular))
            #expect(try String(contentsOfFile: regular, encoding: .utf8) == "now written")

            // A root daemon makes device nodes; the mount is nodev, so they
            // cannot be opened through it.
            let device = volume.path("device")
            #expect(mknod(device, S_IFCHR | 0o666, (1 << 8) | 3) == 0)
            let node = try attributes(device, follow: false)
            #expect(node.st_mode & S_IFMT == S_IFCHR && node.st_rdev == (1 << 8) | 3)
            #expect(open(device, O_RDONLY) == -1 && errno == EACCES)
        }
    }

    @Test func extendedAttributesAreUnsupportedByDefault() throws {
        try withMountedVolume { volume in
            let path = volume.path("no-xattr")
            try Data("x".utf8).write(to: URL(fileURLWithPath: path))
            let value = Array("blue".utf8)
            #expect(setxattr(path, "user.colour", value, value.count, 0) == -1 && errno == EOPNOTSUPP)
            #expect(getxattr(path, "user.colour", nil, 0) == -1 && errno == EOPNOTSUPP)
            var names = [CChar](repeating: 0, count: 64)
            #expect(listxattr(path, &names, names.count) == -1 && errno == EOPNOTSUPP)
            #expect(removexattr(path, "user.colour") == -1 && errno == EOPNOTSUPP)
            // Nothing reached the backing files.
            for backing in try FileManager.default.subpathsOfDirectory(atPath: volume.cipherDir) {
                #expect(listxattr(volume.cipherDir + "/" + backing, &names, names.count) == 0)
            }
        }
    }

    @Test(arguments: [false, true]) func sparseWritesStaySparseAndReadZeros(plaintextNames: Bool) throws {
        try withMountedVolume(plaintextNames: plaintextNames) { volume in
            let path = volume.path("sparse")
            let fd = try posix(open(path, O_CREAT | O_RDWR, 0o600))
            defer { close(fd) }
            let data = bytes(100, seed: 3)
            #expect(pwrite(fd, data, data.count, 8 << 20) == 100)
            #expect(read(fd, at: 4 << 20, count: 4096) == [UInt8](repeating: 0, count: 4096))
            #expect(read(fd, at: 8 << 20, count: 100) == data)
            #expect(try attributes(volume.backingPath(ofMounted: "sparse")).st_blocks < 64)
        }
    }

    @Test(arguments: [false, true]) func aDamagedBackingFileFailsAloneWithEIO(plaintextNames: Bool) throws {
        try withMountedVolume(plaintextNames: plaintextNames) { volume in
            try Data("good".utf8).write(to: URL(fileURLWithPath: volume.path("good")))
            #expect(FileManager.default.createFile(atPath: volume.path("bad"), contents: nil))
            try Data(repeating: 0x41, count: 5000).write(to: URL(fileURLWithPath: volume.backingPath(ofMounted: "bad")))
            let fd = open(volume.path("bad"), O_RDONLY)
            #expect(fd == -1 && errno == EIO)
            #expect(try String(contentsOfFile: volume.path("good"), encoding: .utf8) == "good")
            #expect(unlink(volume.path("bad")) == 0)
        }
    }

    @Test func readOnlyMountRefusesChanges() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        try volume.requireMount()
        try Data("kept".utf8).write(to: URL(fileURLWithPath: volume.path("kept")))
        #expect(try runKLFS(["unmount", volume.mountPoint]).status == 0)
        try volume.requireMount(["-o", "ro"])
        #expect(try String(contentsOfFile: volume.path("kept"), encoding: .utf8) == "kept")
        #expect(open(volume.path("kept"), O_WRONLY) == -1 && errno == EROFS)
        #expect(open(volume.path("new"), O_CREAT | O_WRONLY, 0o600) == -1 && errno == EROFS)
        #expect(mkdir(volume.path("dir"), 0o700) == -1 && errno == EROFS)
    }
}

// MARK: - POSIX helpers

func posix(_ fd: Int32, _ location: SourceLocation = #_sourceLocation) throws -> Int32 {
    try #require(fd >= 0, "errno \(errno): \(String(cString: strerror(errno)))", sourceLocation: location)
    return fd
}

func attributes(_ path: String, follow: Bool = true) throws -> stat {
    var st = stat()
    let result = follow ? stat(path, &st) : lstat(path, &st)
    try #require(result == 0, "stat \(path): errno \(errno)")
    return st
}

func fileSize(_ path: String) throws -> Int { Int(try attributes(path).st_size) }

func read(_ fd: Int32, at offset: Int, count: Int) -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: count)
    let done = pread(fd, &buffer, count, off_t(offset))
    return done < 0 ? [] : Array(buffer.prefix(done))
}

/// Deterministic test bytes.
func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
}
