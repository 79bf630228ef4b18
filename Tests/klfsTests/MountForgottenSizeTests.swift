import Foundation
import Glibc
import Testing

/// Plaintext sizes outlive the kernel's forget (ForgottenSizes): after the
/// kernel dropped its inodes, looking files up again shows the right sizes
/// without opening their backing files, unless a backing file changed.
@Suite(.serialized) struct MountForgottenSizeTests {
    @Test func sizesSurviveTheKernelForgettingWithoutReadingHeadersAgain() throws {
        try withMountedVolume { volume in
            let sizes = ["empty": 0, "byte": 1, "sector": 4096, "shrunk": 5000, "large": 70_000]
            for (name, size) in sizes {
                try Data(bytes(size, seed: UInt64(size))).write(to: URL(fileURLWithPath: volume.path(name)))
            }
            // 5000 and 4500 bytes take the same two sectors: the backing
            // size does not change, only the header does.
            #expect(truncate(volume.path("shrunk"), 4500) == 0)
            let expected = sizes.merging(["shrunk": 4500]) { $1 }

            try forgetEverything(volume)
            let opens = try BackingOpens(volume.cipherDir)
            for (name, size) in expected { #expect(try fileSize(volume.path(name)) == size, "\(name)") }
            #expect(opens.files().isEmpty, "headers were read again: \(opens.files())")
            #expect(try Data(contentsOf: URL(fileURLWithPath: volume.path("byte"))) == Data(bytes(1, seed: 1)))
        }
    }

    @Test func aBackingFileChangedUnderneathIsReadAgain() throws {
        try withMountedVolume { volume in
            try Data(bytes(100, seed: 1)).write(to: URL(fileURLWithPath: volume.path("file")))
            try Data(bytes(3000, seed: 2)).write(to: URL(fileURLWithPath: volume.path("other")))
            let backing = try volume.backingPath(ofMounted: "file")
            let otherHeader = Array(try Data(contentsOf: URL(fileURLWithPath: volume.backingPath(ofMounted: "other")))[0..<64])
            try forgetEverything(volume)
            // A new ctime: past the coarse timestamp tick of the last write.
            usleep(50_000)
            // The other file's whole header, which authenticates (a size is
            // sealed to its file ID): size 3000, the same sector count, so
            // the backing size stays the same.
            let fd = try posix(open(backing, O_WRONLY))
            #expect(pwrite(fd, otherHeader, 64, 0) == 64)
            close(fd)
            #expect(try fileSize(volume.path("file")) == 3000)
        }
    }
}

/// Makes the kernel drop every cached dentry and inode, then waits until
/// the daemon has closed the descriptors of the forgotten files.
private func forgetEverything(_ volume: VolumeFixture) throws {
    sync()
    let knob = try posix(open("/proc/sys/vm/drop_caches", O_WRONLY))
    #expect(write(knob, "2\n", 2) == 2)
    close(knob)
    let pid = try #require(volume.daemonPID())
    for _ in 0..<500 where descriptorsBelow(volume.cipherDir, in: pid) > 0 { usleep(10_000) }
    #expect(descriptorsBelow(volume.cipherDir, in: pid) == 0)
}

/// How many of `pid`'s descriptors are on files inside `directory`.
private func descriptorsBelow(_ directory: String, in pid: pid_t) -> Int {
    descriptorTargets(of: pid).filter { $0.hasPrefix(directory + "/") }.count
}

/// The files opened (for reading or writing, not O_PATH) in a directory
/// since this watch began, seen through inotify.
private final class BackingOpens {
    private let fd: Int32

    init(_ directory: String) throws {
        fd = try posix(inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC)))
        _ = try posix(inotify_add_watch(fd, directory, UInt32(IN_OPEN)))
    }

    func files() -> [String] {
        var names: [String] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = read(fd, &buffer, buffer.count)
        var offset = 0
        while count > 0 && offset < count {
            let (mask, length) = buffer.withUnsafeBytes { raw in
                (raw.load(fromByteOffset: offset + 4, as: UInt32.self), Int(raw.load(fromByteOffset: offset + 12, as: UInt32.self)))
            }
            let name = String(decoding: buffer[(offset + 16)..<(offset + 16 + length)].prefix { $0 != 0 }, as: UTF8.self)
            if mask & UInt32(IN_ISDIR) == 0 && !name.isEmpty { names.append(name) }
            offset += 16 + length
        }
        return names
    }

    deinit { close(fd) }
}
