import Foundation
import Glibc
import Testing

/// klfs.conf is replaced atomically (temporary file, fsync, rename), so a
/// passwd killed at any moment leaves a volume that mounts with the old
/// passphrase or the new one, with its data.
@Suite struct PasswdInterruptionTests {
    static let rounds = 12

    @Test func passwdKilledAtRandomMomentsAlwaysLeavesAMountableVolume() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        try volume.requireMount()
        let kept = bytes(10_000, seed: 4)
        try Data(kept).write(to: URL(fileURLWithPath: volume.path("kept")))
        #expect(try runKLFS(["unmount", volume.mountPoint]).status == 0)

        let passfiles = try ["one", "two"].map { name in
            let path = volume.directory.appendingPathComponent(name).path
            try "passphrase \(name)\n".write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        var current = volume.passfile
        let started = Date()
        #expect(try passwd(from: current, to: passfiles[0]).terminationStatus == 0)
        current = passfiles[0]
        let duration = Date().timeIntervalSince(started)

        var interrupted = 0
        for round in 0..<Self.rounds {
            let next = current == passfiles[0] ? passfiles[1] : passfiles[0]
            let delay = Double.random(in: 0...duration)
            let process = try passwd(from: current, to: next, killAfter: delay)
            if process.terminationReason == .uncaughtSignal { interrupted += 1 }

            let works = [current, next].first { try! mountAndCheck(volume, passfile: $0, kept: kept) }
            #expect(works != nil, "round \(round), killed after \(delay) s: the volume opens with neither passphrase")
            current = works ?? current
        }
        #expect(interrupted > 0, "no passwd was interrupted")
    }

    /// Runs `klfs passwd`, killing it with SIGKILL after `killAfter`
    /// seconds unless it is done by then.
    private func passwd(from old: String, to new: String, killAfter: Double? = nil) throws -> Process {
        let process = Process()
        process.executableURL = klfsBinary
        process.arguments = ["passwd", cipherDirOf(old), "--passfile", old, "--new-passfile", new,
                             "--kdf-ops", "2", "--kdf-memory-mib", "64"]
        process.environment = ["SWIFT_BACKTRACE": "enable=no"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        if let killAfter {
            usleep(UInt32(killAfter * 1_000_000))
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        return process
    }

    /// The passfiles sit next to the cipher dir.
    private func cipherDirOf(_ passfile: String) -> String {
        URL(fileURLWithPath: passfile).deletingLastPathComponent().appendingPathComponent("cipher").path
    }

    private func mountAndCheck(_ volume: VolumeFixture, passfile: String, kept: [UInt8]) throws -> Bool {
        let mount = try runKLFS(["mount", volume.cipherDir, volume.mountPoint, "--passfile", passfile,
                                 "--engine", "keylocker-soft"])
        guard mount.status == 0 else { return false }
        defer { volume.unmount() }
        return FileManager.default.contents(atPath: volume.path("kept")) == Data(kept)
    }
}
