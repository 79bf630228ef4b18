import Foundation
import Glibc
import Testing

/// The daemon keeps a bounded number of descriptors however many inodes
/// the kernel caches (DescriptorCache): with 512 allowed, a tree of 20,000
/// files can be made, listed, read, renamed and removed.
@Suite(.serialized) struct MountDescriptorLimitTests {
    static let files = 20_000
    static let limit = 512

    @Test func twentyThousandFilesUnderALimitOf512Descriptors() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        try mountUnderDescriptorLimit(volume)
        let sampler = DescriptorSampler(try #require(volume.daemonPID()))

        try #require(mkdir(volume.path("d"), 0o755) == 0 && mkdir(volume.path("e"), 0o755) == 0)
        for i in 0..<Self.files { try write(contents(i), to: volume.path("d/f\(i)")) }
        for i in 0..<Self.files {
            var st = stat()
            try #require(lstat(volume.path("d/f\(i)"), &st) == 0, "stat f\(i): \(errno)")
            try #require(st.st_size == contents(i).count)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: volume.path("d")).count == Self.files)
        for i in 0..<Self.files { try #require(try read(volume.path("d/f\(i)")) == contents(i), "f\(i)") }
        for i in 0..<Self.files {
            try #require(rename(volume.path("d/f\(i)"), volume.path("e/g\(i)")) == 0, "rename f\(i): \(errno)")
        }
        for i in stride(from: 0, to: Self.files, by: 97) { #expect(try read(volume.path("e/g\(i)")) == contents(i)) }
        for i in 0..<Self.files { try #require(unlink(volume.path("e/g\(i)")) == 0, "unlink g\(i): \(errno)") }
        #expect(rmdir(volume.path("d")) == 0 && rmdir(volume.path("e")) == 0)
        let mostOpen = sampler.stop()
        #expect(mostOpen < Self.limit, "the daemon had \(mostOpen) descriptors open")
        #expect(try FileManager.default.contentsOfDirectory(atPath: volume.mountPoint).isEmpty)
    }

    /// An inode whose descriptor was evicted is found again by the name it
    /// has now: after a directory rename, through a hard link whose first
    /// name went, and (as an orphan) after its last name went while open.
    @Test func evictedInodesAreFoundByTheirCurrentNames() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        try mountUnderDescriptorLimit(volume)
        try #require(mkdir(volume.path("a"), 0o755) == 0 && mkdir(volume.path("churn"), 0o755) == 0)
        try write(contents(1), to: volume.path("a/file"))
        try write(contents(2), to: volume.path("linked"))
        try #require(link(volume.path("linked"), volume.path("a/second")) == 0)
        try write(contents(3), to: volume.path("open"))
        let held = try posix(open(volume.path("open"), O_RDONLY))
        defer { close(held) }

        try #require(rename(volume.path("a"), volume.path("b")) == 0)
        try #require(unlink(volume.path("linked")) == 0)
        try #require(unlink(volume.path("open")) == 0)
        // More lookups than the cache holds (256): every descriptor above is evicted.
        for i in 0..<2_000 { try write([], to: volume.path("churn/\(i)")) }

        #expect(try read(volume.path("b/file")) == contents(1))
        #expect(try read(volume.path("b/second")) == contents(2))
        var st = stat()
        #expect(fstat(held, &st) == 0 && st.st_nlink == 0 && st.st_size == contents(3).count)
        #expect(stat("/proc/self/fd/\(held)", &st) == 0 && st.st_size == contents(3).count)
        var buffer = [UInt8](repeating: 0, count: 4096)
        #expect(pread(held, &buffer, buffer.count, 0) == contents(3).count)
    }

    /// A file that loses the name it was last found by, while the kernel
    /// still knows it by another, keeps a descriptor only while the cache
    /// has room (DescriptorCache.orphan): 2,000 of them under a limit of
    /// 512 unlink without EMFILE and are found again by their other names.
    @Test func filesThatLostANameStillKnownByAnotherStayUnderTheLimit() throws {
        let count = 2_000
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        try mountUnderDescriptorLimit(volume)
        let sampler = DescriptorSampler(try #require(volume.daemonPID()))
        try #require(mkdir(volume.path("a"), 0o755) == 0 && mkdir(volume.path("b"), 0o755) == 0)
        for i in 0..<count {
            try write(contents(i), to: volume.path("a/f\(i)"))
            // The link is the name the inode was last found by.
            try #require(link(volume.path("a/f\(i)"), volume.path("b/f\(i)")) == 0, "link f\(i): \(errno)")
        }
        for i in 0..<count { try #require(unlink(volume.path("b/f\(i)")) == 0, "unlink b/f\(i): \(errno)") }
        for i in 0..<count {
            var st = stat()
            try #require(stat(volume.path("a/f\(i)"), &st) == 0 && st.st_nlink == 1, "stat a/f\(i): \(errno)")
            try #require(try read(volume.path("a/f\(i)")) == contents(i), "a/f\(i)")
        }
        let mostOpen = sampler.stop()
        #expect(mostOpen < Self.limit, "the daemon had \(mostOpen) descriptors open")
    }

    /// The same tree with the daemon running as an ordinary user (through
    /// fusermount3), who alone can use its mount: a script of theirs makes,
    /// stats, lists, reads, renames and removes the files.
    @Test func twentyThousandFilesUnderALimitOf512DescriptorsForAnOrdinaryUsersDaemon() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        try FuseDeviceAccess.forEveryone {
            try OrdinaryUser.take(volume.directory.path)
            let result = try OrdinaryUser.run(URL(fileURLWithPath: "/usr/bin/prlimit"), [
                "--nofile=\(Self.limit):\(Self.limit)", try OrdinaryUser.reachable(klfsBinary).path, "mount",
                volume.cipherDir, volume.mountPoint, "--passfile", volume.passfile, "--engine", "keylocker-soft",
            ])
            try #require(result.status == 0, "mount: \(result.standardError)")
        }
        let daemon = try #require(volume.daemonPID())
        let sampler = DescriptorSampler(daemon)
        let result = try OrdinaryUser.run(URL(fileURLWithPath: "/usr/bin/python3"),
                                          ["-c", Self.treeScript, volume.mountPoint, "\(Self.files)"])
        let mostOpen = sampler.stop()
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        #expect(result.standardOutput == "ok\n")
        #expect(mostOpen < Self.limit, "the daemon had \(mostOpen) descriptors open")
    }

    /// Run by the ordinary user: argv[1] is the mount, argv[2] the file count.
    private static let treeScript = """
        import os, sys
        root, n = sys.argv[1], int(sys.argv[2])
        def body(i): return b"file %d\\n" % i + bytes([i % 251]) * (i % 700)
        d, e = os.path.join(root, "d"), os.path.join(root, "e")
        os.mkdir(d); os.mkdir(e)
        for i in range(n):
            with open(os.path.join(d, "f%d" % i), "xb") as f: f.write(body(i))
        for i in range(n):
            assert os.lstat(os.path.join(d, "f%d" % i)).st_size == len(body(i)), i
        assert len(os.listdir(d)) == n
        for i in range(n):
            with open(os.path.join(d, "f%d" % i), "rb") as f: assert f.read() == body(i), i
        for i in range(n): os.rename(os.path.join(d, "f%d" % i), os.path.join(e, "g%d" % i))
        for i in range(0, n, 97):
            with open(os.path.join(e, "g%d" % i), "rb") as f: assert f.read() == body(i), i
        for i in range(n): os.unlink(os.path.join(e, "g%d" % i))
        os.rmdir(d); os.rmdir(e)
        assert os.listdir(root) == []
        print("ok")
        """

    /// Renames, reads and stats from several threads at once, on more files
    /// than the cache holds: descriptors are evicted and reopened by name
    /// while requests are in flight and names are moving.
    @Test func concurrentRenamesReadsAndStatsSurviveEviction() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        try mountUnderDescriptorLimit(volume)
        try #require(mkdir(volume.path("d"), 0o755) == 0)
        let count = 2_000, movers = 4
        for i in 0..<count { try write(contents(i), to: volume.path("d/f\(i)")) }
        let directory = volume.path("d")
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: movers + 1) { worker in
            if worker == movers {
                // Stats every file over and over, whatever name it has now.
                for pass in 0..<3 {
                    for i in 0..<count {
                        var st = stat()
                        if lstat("\(directory)/f\(i)", &st) != 0 && lstat("\(directory)/g\(i)", &st) != 0
                            && lstat("\(directory)/f\(i)", &st) != 0 {
                            failures.record("stat \(i) pass \(pass): \(errno)")
                        }
                    }
                }
                return
            }
            for i in stride(from: worker, to: count, by: movers) {
                let from = "\(directory)/f\(i)", to = "\(directory)/g\(i)"
                if rename(from, to) != 0 { failures.record("rename \(i): \(errno)") }
                if (try? read(to)) != contents(i) { failures.record("read g\(i)") }
                if rename(to, from) != 0 { failures.record("rename back \(i): \(errno)") }
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all.prefix(10))")
        for i in stride(from: 0, to: count, by: 7) { #expect(try read(volume.path("d/f\(i)")) == contents(i)) }
    }

    /// `klfs mount` started under `prlimit --nofile=512:512`, so the daemon
    /// it forks has that limit from the start.
    private func mountUnderDescriptorLimit(_ volume: VolumeFixture) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
        process.arguments = ["--nofile=\(Self.limit):\(Self.limit)", klfsBinary.path, "mount", volume.cipherDir,
                             volume.mountPoint, "--passfile", volume.passfile, "--engine", "keylocker-soft"]
        process.environment = ["SWIFT_BACKTRACE": "enable=no"]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0 && volume.isMounted)
    }

    /// What went wrong on any thread.
    private final class Failures: @unchecked Sendable {
        private let lock = NSLock()
        private var failures: [String] = []

        func record(_ failure: String) { lock.withLock { failures.append(failure) } }
        var all: [String] { lock.withLock { failures } }
    }

    /// Counts a process's open descriptors every 50 ms until stopped.
    private final class DescriptorSampler: @unchecked Sendable {
        private let lock = NSLock()
        private var most = 0
        private var running = true
        private let done = DispatchSemaphore(value: 0)

        init(_ pid: pid_t) {
            Thread.detachNewThread { [self] in
                while lock.withLock({ running }) {
                    let count = descriptorTargets(of: pid).count
                    lock.withLock { most = max(most, count) }
                    usleep(50_000)
                }
                done.signal()
            }
        }

        /// Stops sampling; the most descriptors seen open.
        func stop() -> Int {
            lock.withLock { running = false }
            done.wait()
            return lock.withLock { most }
        }
    }

    private func contents(_ i: Int) -> [UInt8] {
        Array("file \(i)\n".utf8) + [UInt8](repeating: UInt8(i % 251), count: i % 700)
    }

    private func write(_ bytes: [UInt8], to path: String) throws {
        let fd = try posix(open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644))
        defer { close(fd) }
        try #require(Glibc.write(fd, bytes, bytes.count) == bytes.count)
    }

    private func read(_ path: String) throws -> [UInt8] {
        let fd = try posix(open(path, O_RDONLY))
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = Glibc.read(fd, &buffer, buffer.count)
        try #require(count >= 0)
        return Array(buffer[0..<count])
    }
}
