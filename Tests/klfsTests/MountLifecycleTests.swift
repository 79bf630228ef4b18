import Foundation
import Glibc
import KLBlock
import Testing

/// Mounting, unmounting, engines, recovery and the fstab argument shape.
@Suite struct MountLifecycleTests {
    static let sizes = [0, 1, 15, 16, 511, 512, 4095, 4096, 4097, 12_288, 100_003]

    private func writeSampleFiles(_ volume: VolumeFixture) throws -> [String: Data] {
        var files: [String: Data] = [:]
        try FileManager.default.createDirectory(atPath: volume.path("sub"), withIntermediateDirectories: false)
        for (index, size) in Self.sizes.enumerated() {
            let name = (index % 2 == 0 ? "" : "sub/") + "file-\(size)"
            let data = Data(bytes(size, seed: UInt64(index + 10)))
            try data.write(to: URL(fileURLWithPath: volume.path(name)))
            files[name] = data
        }
        return files
    }

    private func expectFiles(_ files: [String: Data], in volume: VolumeFixture, _ comment: String) {
        for (name, data) in files.sorted(by: { $0.key < $1.key }) {
            let read = try? Data(contentsOf: URL(fileURLWithPath: volume.path(name)))
            #expect(read == data, "\(comment): \(name)")
        }
    }

    @Test func remountKeepsEveryByteAndEveryEngineReadsTheSameData() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        try volume.requireMount()
        let files = try writeSampleFiles(volume)
        #expect(try runKLFS(["unmount", volume.mountPoint]).status == 0)
        #expect(!volume.isMounted)
        for (engine, extra) in [("keylocker-soft", []), ("aesni", []), ("keylocker", ["--emulate-keylocker"])] {
            let result = try volume.mount(extra, engine: engine)
            try #require(result.status == 0, "\(engine): \(result.standardError)")
            if engine == "aesni" { #expect(result.standardError.contains("key stays in this process's memory")) }
            expectFiles(files, in: volume, engine)
            volume.unmount()
        }
    }

    @Test func identicalPlaintextGivesDifferentBackingBytes() throws {
        try withMountedVolume { volume in
            let data = Data(repeating: 0x5A, count: 8192)
            try data.write(to: URL(fileURLWithPath: volume.path("one")))
            try data.write(to: URL(fileURLWithPath: volume.path("two")))
            let one = try Data(contentsOf: URL(fileURLWithPath: volume.backingPath(ofMounted: "one")))
            let two = try Data(contentsOf: URL(fileURLWithPath: volume.backingPath(ofMounted: "two")))
            #expect(one.count == two.count)
            #expect(one.dropFirst(4096) != two.dropFirst(4096))
            #expect(one.range(of: data.prefix(64)) == nil)
        }
    }

    @Test func masterKeyRecoveryMounts() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        let result = try runKLFS(["mount", volume.cipherDir, volume.mountPoint, "--masterkey", volume.masterKeyFile])
        try #require(result.status == 0, "\(result.standardError)")
        try Data("recovered".utf8).write(to: URL(fileURLWithPath: volume.path("r")))
        #expect(try String(contentsOfFile: volume.path("r"), encoding: .utf8) == "recovered")
    }

    /// mount.fuse3 runs `klfs CIPHERDIR MOUNTPOINT -o OPTIONS` for an fstab
    /// line, adding `dev,suid` on its own: the mount stays nodev,nosuid.
    @Test func fstabArgumentShapeMountsThroughMountFuse3() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        let direct = try runKLFS([volume.cipherDir, volume.mountPoint, "-o", "passfile=\(volume.passfile),rw,dev,suid"])
        try #require(direct.status == 0, "\(direct.standardError)")
        #expect(volume.isMounted)
        #expect(try mountFlags(of: volume.mountPoint).isSuperset(of: ["nodev", "nosuid"]))
        volume.unmount()

        let helper = Process()
        helper.executableURL = URL(fileURLWithPath: "/usr/sbin/mount.fuse3")
        helper.arguments = [volume.cipherDir, volume.mountPoint, "-t", "fuse.klfs",
                            "-o", "passfile=\(volume.passfile),noatime"]
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = klfsBinary.deletingLastPathComponent().path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        environment["SWIFT_BACKTRACE"] = "enable=no"
        helper.environment = environment
        helper.standardOutput = FileHandle.nullDevice
        helper.standardError = FileHandle.nullDevice
        try helper.run()
        helper.waitUntilExit()
        #expect(helper.terminationStatus == 0)
        #expect(volume.isMounted)
        #expect(try mountFlags(of: volume.mountPoint).isSuperset(of: ["nodev", "nosuid"]))
    }

    @Test func devicesAndSetIDBitsWorkOnlyWhenAskedForExplicitly() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        try volume.requireMount(["-o", "klfs_dev,klfs_suid"])
        #expect(try mountFlags(of: volume.mountPoint).isDisjoint(with: ["nodev", "nosuid"]))
        volume.unmount()
        try volume.requireMount(["-o", "klfs_suid,nosuid,klfs_dev"])
        let flags = try mountFlags(of: volume.mountPoint)
        #expect(!flags.contains("nodev") && flags.contains("nosuid"))
    }

    /// The per-mount flags mountinfo shows for `mountPoint` (rw, nodev, ...).
    private func mountFlags(of mountPoint: String) throws -> Set<String> {
        let line = try #require(procFile("/proc/self/mountinfo").split(separator: "\n")
            .first { $0.split(separator: " ").dropFirst(4).first.map(String.init) == mountPoint })
        return Set(line.split(separator: " ")[5].split(separator: ",").map(String.init))
    }

    @Test func allowOtherImpliesDefaultPermissions() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        try volume.requireMount(["-o", "allow_other"])
        let mountinfo = procFile("/proc/self/mountinfo")
        let line = try #require(mountinfo.split(separator: "\n").first { $0.contains(" \(volume.mountPoint) ") })
        #expect(line.contains("fuse.klfs \(volume.cipherDir)"))
        #expect(line.contains("allow_other") && line.contains("default_permissions"))
    }

    @Test func foregroundMountUnmountsOnSIGTERM() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        let process = Process()
        process.executableURL = klfsBinary
        process.arguments = ["mount", "-f", volume.cipherDir, volume.mountPoint, "--passfile", volume.passfile]
        process.environment = ["SWIFT_BACKTRACE": "enable=no"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<500 where !volume.isMounted { usleep(10_000) }
        #expect(volume.isMounted)
        try Data("fg".utf8).write(to: URL(fileURLWithPath: volume.path("fg")))
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(!volume.isMounted)
    }

    @Test func unmountCleansUpAMountWhoseDaemonDied() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        try volume.requireMount()
        let daemon = try #require(volume.daemonPID())
        kill(daemon, SIGKILL)
        volume.waitForExit(daemon)
        #expect(volume.isMounted)
        let remount = try volume.mount()
        #expect(remount.status == 32, "\(remount.standardError)")
        #expect(try runKLFS(["unmount", volume.mountPoint]).status == 0)
        #expect(!volume.isMounted)
    }
}
