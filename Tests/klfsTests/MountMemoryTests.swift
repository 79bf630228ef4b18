import Foundation
import CKLKernels
import Glibc
import Testing

/// Once the mount is ready, the daemon's readable memory holds no copy of
/// the master key, of either XTS key or its AES key schedule, of the names
/// key, or of the passphrase; and the daemon leaves no core dump.
@Suite(.serialized) struct MountMemoryTests {
    @Test(arguments: [("keylocker-soft", [String]()), ("keylocker", ["--emulate-keylocker"]), ("aesni", [])])
    func daemonMemoryHoldsNoKeyAndNoPassphrase(engine: String, extra: [String]) throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        let pid = try mountAndUse(volume, engine: engine, extra)
        let scan = try MemoryScan(pid: pid)
        #expect(scan.bytesScanned > 1 << 20)
        expectNoSecret(in: scan, of: volume, "\(engine), /proc/PID/mem")
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
        let scan = MemoryScan(core: Array(core))
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

    /// The master key, K1, K2, the names key, their AES key schedules
    /// (encryption and decryption, round keys 2-14: 0 and 1 are the key
    /// itself) and the passphrase: none may be in `scan`. Only names are reported.
    private func expectNoSecret(in scan: MemoryScan, of volume: VolumeFixture, _ context: String,
                                sourceLocation: SourceLocation = #_sourceLocation) {
        var needles: [(String, [UInt8])] = [
            ("master key", volume.masterKey),
            ("XTS data key K1", Array(volume.masterKey[..<32])),
            ("XTS tweak key K2", Array(volume.masterKey[32...])),
            ("names key", SpecReader.namesKey(masterKey: volume.masterKey)),
            ("passphrase", Array(VolumeFixture.passphrase.utf8)),
        ]
        for (name, key) in [("K1", Array(volume.masterKey[..<32])), ("K2", Array(volume.masterKey[32...])),
                            ("names key", SpecReader.namesKey(masterKey: volume.masterKey))] {
            var encrypt = klfs_aes_key(), decrypt = klfs_aes_key()
            _ = klfs_aes_expand_key(key, 256, &encrypt, &decrypt)
            needles.append(("\(name) encryption schedule", roundKeys(encrypt, 2..<15)))
            needles.append(("\(name) decryption schedule", roundKeys(decrypt, 2..<15)))
            klfs_wipe(&encrypt, MemoryLayout<klfs_aes_key>.size)  // the schedules die here
            klfs_wipe(&decrypt, MemoryLayout<klfs_aes_key>.size)
        }
        // Positive control: the scan does find what the daemon does hold.
        #expect(scan.contains(Array(volume.cipherDir.utf8)), "\(context): the scan misses the cipher dir",
                sourceLocation: sourceLocation)
        for (name, needle) in needles {
            #expect(!scan.contains(needle), "\(context): the daemon's memory holds the \(name)",
                    sourceLocation: sourceLocation)
        }
    }

    private func roundKeys(_ schedule: klfs_aes_key, _ rounds: Range<Int>) -> [UInt8] {
        withUnsafeBytes(of: schedule.round_keys) { Array($0[rounds.lowerBound * 16..<rounds.upperBound * 16]) }
    }
}

/// A snapshot of every readable region of another process's memory,
/// through /proc/PID/mem (regions the kernel refuses, such as
/// memfd_secret mappings, are skipped: they are not readable).
struct MemoryScan {
    private(set) var regions: [[UInt8]] = []
    var bytesScanned: Int { regions.reduce(0) { $0 + $1.count } }

    /// A core file, searched whole.
    init(core: [UInt8]) {
        regions = [core]
    }

    init(pid: pid_t) throws {
        let maps = procFile("/proc/\(pid)/maps")
        let memory = open("/proc/\(pid)/mem", O_RDONLY)
        try #require(memory >= 0, "open /proc/\(pid)/mem: errno \(errno)")
        defer { close(memory) }
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, fields[1].hasPrefix("r"), !line.hasSuffix("[vvar]"),
                  !line.hasSuffix("[vsyscall]") else { continue }
            let bounds = fields[0].split(separator: "-").compactMap { UInt64($0, radix: 16) }
            guard bounds.count == 2 else { continue }
            var region = [UInt8](repeating: 0, count: Int(bounds[1] - bounds[0]))
            let read = region.withUnsafeMutableBytes { buffer in
                pread(memory, buffer.baseAddress, buffer.count, off_t(Int64(bitPattern: bounds[0])))
            }
            if read > 0 { regions.append(Array(region.prefix(read))) }
        }
    }

    func contains(_ needle: [UInt8]) -> Bool {
        regions.contains { region in
            region.withUnsafeBytes { haystack in
                needle.withUnsafeBytes { pattern in
                    var start = 0
                    while start + pattern.count <= haystack.count {
                        guard let hit = memchr(haystack.baseAddress! + start, Int32(pattern[0]),
                                               haystack.count - start - pattern.count + 1) else { return false }
                        let offset = haystack.baseAddress!.distance(to: UnsafeRawPointer(hit))
                        if memcmp(hit, pattern.baseAddress!, pattern.count) == 0 { return true }
                        start = offset + 1
                    }
                    return false
                }
            }
        }
    }
}
