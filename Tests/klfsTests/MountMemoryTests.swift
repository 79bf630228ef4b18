import CKLKernels
import Foundation
import Glibc
import KLTestSupport
import Synchronization
import Testing

/// Once the mount is ready, the daemon's readable memory holds no copy of
/// the master key, of either XTS key or its AES key schedule, of the names
/// or header key, or of the passphrase; and the daemon leaves no core dump.
@Suite(.serialized) struct MountMemoryTests {
    @Test(arguments: [("keylocker-soft", [String]()), ("keylocker", ["--emulate-keylocker"]), ("aesni", [])])
    func daemonMemoryHoldsNoKeyAndNoPassphrase(engine: String, extra: [String]) throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        let pid = try mountAndUse(volume, engine: engine, extra)
        let scan = try MemoryScan(pid: pid, searchingFor: secrets(of: volume))
        #expect(scan.bytesScanned > 1 << 20)
        expectNoSecret(in: scan, of: volume, "\(engine), /proc/PID/mem")
    }

    /// The headline promise holds while the daemon works, not only at
    /// rest: scans of its memory taken while 4 readers and 4 writers keep
    /// requests in flight (partial-sector writes, so sectors are decrypted,
    /// merged and encrypted again) find no key and no round key. Every
    /// unwrapped key lives in memfd_secret memory, which /proc/PID/mem
    /// cannot read, and only during the crypto call.
    @Test(arguments: [("keylocker-soft", [String]()), ("keylocker", ["--emulate-keylocker"]), ("aesni", [])])
    func daemonMemoryHoldsNoKeyWhileRequestsAreInFlight(engine: String, extra: [String]) throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        let pid = try mountAndUse(volume, engine: engine, extra)
        let load = try RequestLoad(in: volume, readers: 4, writers: 4)
        let needles = secrets(of: volume)
        var scans = 0
        let end = Date().addingTimeInterval(5)
        repeat {
            expectNoSecret(in: try MemoryScan(pid: pid, searchingFor: needles), of: volume,
                           "\(engine), scan \(scans) under load")
            scans += 1
        } while scans < 5 || Date() < end
        let requests = load.stop()
        for (worker, count) in requests.enumerated() {
            #expect(count >= scans, "\(engine): worker \(worker) made only \(count) requests in \(scans) scans")
        }
    }

    /// The daemon is not dumpable: SIGABRT, which dumps a core of another
    /// process with the same limit and core_pattern (the control), leaves
    /// none.
    @Test func theDaemonLeavesNoCoreDumpWhenItCrashes() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        try volume.requireMount()
        let cores = volume.directory.appendingPathComponent("cores").path
        try FileManager.default.createDirectory(atPath: cores, withIntermediateDirectories: true)
        let patternFile = "/proc/sys/kernel/core_pattern"
        let savedPattern = try String(contentsOfFile: patternFile, encoding: .utf8)
        try (cores + "/core.%p").write(toFile: patternFile, atomically: false, encoding: .utf8)
        defer { try? savedPattern.write(toFile: patternFile, atomically: false, encoding: .utf8) }

        // The control unblocks SIGABRT itself: the test runner's children
        // inherit a blocked signal mask (klfs unblocks at start).
        let control = Process()
        control.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
        control.arguments = ["--core=unlimited", "/usr/bin/perl", "-e",
                             "use POSIX; sigprocmask(SIG_SETMASK, POSIX::SigSet->new); kill 'ABRT', $$; sleep 5"]
        try control.run()
        control.waitUntilExit()
        #expect(FileManager.default.fileExists(atPath: cores + "/core.\(control.processIdentifier)"),
                "control: a dumpable process leaves a core here")

        let daemon = try #require(volume.daemonPID())
        try abortWithCoreLimitUnlimited(daemon)
        volume.waitForExit(daemon)
        #expect(kill(daemon, 0) == -1, "the daemon survived SIGABRT")
        #expect(!FileManager.default.fileExists(atPath: cores + "/core.\(daemon)"), "the daemon dumped a core")
    }

    /// What root can still take, with a debugger (gcore attaches with
    /// ptrace, which CAP_SYS_PTRACE allows despite PR_SET_DUMPABLE 0),
    /// holds no key, no key schedule and no passphrase either.
    @Test(arguments: [("keylocker-soft", [String]()), ("keylocker", ["--emulate-keylocker"]), ("aesni", [])])
    func aDebuggersCoreDumpHoldsNoKeyAndNoPassphrase(engine: String, extra: [String]) throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        let pid = try mountAndUse(volume, engine: engine, extra)
        let prefix = volume.directory.appendingPathComponent("gcore").path
        let gcore = Process()
        gcore.executableURL = URL(fileURLWithPath: "/usr/bin/gcore")
        gcore.arguments = ["-o", prefix, "\(pid)"]
        gcore.standardOutput = FileHandle.nullDevice
        gcore.standardError = FileHandle.nullDevice
        try gcore.run()
        gcore.waitUntilExit()
        let core = try #require(FileManager.default.contents(atPath: prefix + ".\(pid)"), "gcore wrote no core")
        let scan = MemoryScan(core: Array(core), searchingFor: secrets(of: volume))
        #expect(scan.bytesScanned > 1 << 20)
        expectNoSecret(in: scan, of: volume, "\(engine), gcore")
    }

    /// Mounts with `engine`, writes and reads a file so that every code
    /// path has run once, and returns the daemon's pid.
    private func mountAndUse(_ volume: VolumeFixture, engine: String, _ extra: [String]) throws -> pid_t {
        try volume.requireMount(extra, engine: engine)
        try Data(bytes(20_000, seed: 9)).write(to: URL(fileURLWithPath: volume.path("f")))
        _ = try Data(contentsOf: URL(fileURLWithPath: volume.path("f")))
        return try #require(volume.daemonPID())
    }

    /// prlimit(1): Glibc's prlimit(2) wrapper is not visible to Swift.
    private func abortWithCoreLimitUnlimited(_ pid: pid_t) throws {
        let prlimit = Process()
        prlimit.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
        prlimit.arguments = ["--pid", "\(pid)", "--core=unlimited"]
        try prlimit.run()
        prlimit.waitUntilExit()
        try #require(prlimit.terminationStatus == 0, "prlimit failed")
        kill(pid, SIGABRT)
    }

    /// What the positive control looks for: the cipher dir's path, which
    /// the daemon does hold.
    private let controlNeedle = "the cipher dir's path"

    /// The master key, K1, K2, the names, header and xattr keys, their AES
    /// key schedules (encryption and decryption, round keys 2-14: 0 and 1
    /// are the key itself) and the passphrase, each with a name for the
    /// report; and the positive control.
    private func secrets(of volume: VolumeFixture) -> [(String, [UInt8])] {
        let keys = [("K1", Array(volume.masterKey[..<32])), ("K2", Array(volume.masterKey[32...])),
                    ("names key", SpecReader.namesKey(masterKey: volume.masterKey)),
                    ("header key", SpecReader.headerKey(masterKey: volume.masterKey)),
                    ("xattr key", SpecReader.xattrKey(masterKey: volume.masterKey))]
        let needles: [(String, [UInt8])] = [
            (controlNeedle, Array(volume.cipherDir.utf8)),
            ("master key", volume.masterKey),
            ("passphrase", Array(VolumeFixture.passphrase.utf8)),
        ]
        return needles + keysAndSchedules(keys)
    }

    /// None of the secrets may be in `scan`, and the control must be. Only
    /// names are reported.
    private func expectNoSecret(in scan: MemoryScan, of volume: VolumeFixture, _ context: String,
                                sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(scan.found.contains(controlNeedle), "\(context): the scan misses the cipher dir",
                sourceLocation: sourceLocation)
        let secrets = scan.found.subtracting([controlNeedle]).sorted()
        #expect(secrets.isEmpty, "\(context): the daemon's memory holds the \(secrets.joined(separator: ", "))",
                sourceLocation: sourceLocation)
    }
}

/// Each AES-256 key of `keys` and its AES key schedules (encryption and
/// decryption, round keys 2-14: 0 and 1 are the key itself), named.
func keysAndSchedules(_ keys: [(String, [UInt8])]) -> [(String, [UInt8])] {
    var needles = keys
    for (name, key) in keys {
        var encrypt = klfs_aes_key(), decrypt = klfs_aes_key()
        _ = klfs_aes_expand_key(key, 256, &encrypt, &decrypt)
        needles.append(("\(name) encryption schedule", roundKeys(encrypt, 2..<15)))
        needles.append(("\(name) decryption schedule", roundKeys(decrypt, 2..<15)))
        klfs_wipe(&encrypt, MemoryLayout<klfs_aes_key>.size)  // the schedules die here
        klfs_wipe(&decrypt, MemoryLayout<klfs_aes_key>.size)
    }
    return needles
}

private func roundKeys(_ schedule: klfs_aes_key, _ rounds: Range<Int>) -> [UInt8] {
    withUnsafeBytes(of: schedule.round_keys) { Array($0[rounds.lowerBound * 16..<rounds.upperBound * 16]) }
}

/// Which of a set of named byte strings a process's memory holds: every
/// readable and writable region of another process, read through /proc/PID/mem one
/// region at a time and searched at once (regions the kernel refuses, such
/// as memfd_secret mappings, are skipped: they are not readable), or a
/// core file.
struct MemoryScan {
    private(set) var bytesScanned = 0
    /// The names of the needles found.
    private(set) var found: Set<String> = []
    private let needles: [(String, [UInt8])]

    init(core: [UInt8], searchingFor needles: [(String, [UInt8])]) {
        self.needles = needles
        core.withUnsafeBytes { search($0) }
    }

    init(pid: pid_t, searchingFor needles: [(String, [UInt8])]) throws {
        self.needles = needles
        let maps = procFile("/proc/\(pid)/maps")
        let memory = open("/proc/\(pid)/mem", O_RDONLY)
        try #require(memory >= 0, "open /proc/\(pid)/mem: errno \(errno)")
        defer { close(memory) }
        var region = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { region.deallocate() }
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            // Only writable regions can have come to hold a key.
            guard fields.count >= 2, fields[1].hasPrefix("rw"), !line.hasSuffix("[vvar]"),
                  !line.hasSuffix("[vsyscall]") else { continue }
            let bounds = fields[0].split(separator: "-").compactMap { UInt64($0, radix: 16) }
            guard bounds.count == 2 else { continue }
            let size = Int(bounds[1] - bounds[0])
            if size > region.count {
                region.deallocate()
                region = .allocate(byteCount: size, alignment: 4096)
            }
            let read = pread(memory, region.baseAddress, size, off_t(Int64(bitPattern: bounds[0])))
            if read > 0 { search(UnsafeRawBufferPointer(rebasing: region[0..<read])) }
        }
    }

    private mutating func search(_ haystack: UnsafeRawBufferPointer) {
        bytesScanned += haystack.count
        for (name, needle) in needles where !found.contains(name) {
            let hit = needle.withUnsafeBytes { memmem(haystack.baseAddress, haystack.count, $0.baseAddress, $0.count) }
            if hit != nil { found.insert(name) }
        }
    }
}

/// glibc's memmem, which the Glibc module does not export (a GNU extension).
private let memmem = unsafeBitCast(
    dlsym(UnsafeMutableRawPointer(bitPattern: 0), "memmem"),  // RTLD_DEFAULT
    to: (@convention(c) (UnsafeRawPointer?, Int, UnsafeRawPointer?, Int) -> UnsafeMutableRawPointer?).self)

/// Readers and writers hammering their own files on a mount from threads
/// of this process, until ``stop()``. Readers drop the file's page cache
/// before each read, so every read reaches the daemon; writers write at
/// offsets and lengths that cut sectors, so the daemon merges sectors
/// (decrypt, then encrypt) as well as encrypting whole ones.
final class RequestLoad: @unchecked Sendable {
    private let running = Atomic<Bool>(true)
    private let counts: UnsafeMutableBufferPointer<Int>
    private var threads: [Thread] = []
    private let finished = DispatchGroup()

    init(in volume: VolumeFixture, readers: Int, writers: Int) throws {
        let fileSize = 1 << 20
        counts = .allocate(capacity: readers + writers)
        counts.initialize(repeating: 0)
        for worker in 0..<(readers + writers) {
            let path = volume.path("load-\(worker)")
            try Data(bytes(fileSize, seed: UInt64(worker))).write(to: URL(fileURLWithPath: path))
            let fd = open(path, worker < readers ? O_RDONLY : O_WRONLY)
            try #require(fd >= 0)
            let isReader = worker < readers
            finished.enter()
            let thread = Thread { [self] in
                var generator = SystemRandomNumberGenerator()
                var buffer = [UInt8](repeating: 0xA5, count: 64 << 10)
                while running.load(ordering: .relaxed) {
                    let length = Int.random(in: 1...buffer.count, using: &generator)
                    let offset = Int.random(in: 0...(fileSize - length), using: &generator)
                    let done = buffer.withUnsafeMutableBytes { buffer in
                        if isReader {
                            _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
                            return pread(fd, buffer.baseAddress, length, off_t(offset))
                        }
                        return pwrite(fd, buffer.baseAddress, length, off_t(offset))
                    }
                    if done < 0 { break }
                    counts[worker] += 1
                }
                close(fd)
                finished.leave()
            }
            threads.append(thread)
            thread.start()
        }
    }

    /// Stops the workers and returns how many requests each made.
    func stop() -> [Int] {
        running.store(false, ordering: .relaxed)
        finished.wait()
        defer { counts.deallocate() }
        return Array(counts)
    }
}
