import CFuse
import Foundation
import Glibc
import Testing
@testable import klfs
import KLTestSupport

/// The daemon's key states (docs/FUSE.md, "Suspend, lock and IWKey loss"):
/// the control socket and `klfs status`, suspend, lock, resume, and an
/// IWKey lost under a running mount.
@Suite struct MountKeyStateTests {
    private func writeSample(_ volume: VolumeFixture, _ name: String = "sample", size: Int = 200_003) throws -> Data {
        let data = Data(bytes(size, seed: 7))
        try data.write(to: URL(fileURLWithPath: volume.path(name)))
        return data
    }

    @Test func statusReportsEngineStateAndTrafficOverTheSocket() throws {
        try withMountedVolume { volume in
            let data = try writeSample(volume)
            #expect(try uncachedContents(volume.path("sample")).get() == data)
            let status = try volume.status()
            #expect(status["state"] as? String == "unlocked")
            #expect(status["engine"] as? String == "keylocker-soft")
            let iwkey = try #require(status["iwkey"] as? [String: Any])
            #expect(iwkey["keySource"] as? Int == 0)
            // The software Key Locker has no platform storage to back up to.
            #expect(iwkey["noBackup"] as? Bool == true)
            let restrictions = try #require(status["handleRestrictions"] as? [String: Any])
            #expect(restrictions["tweak"] as? [String] == ["no-decrypt"])
            #expect((status["bytesWritten"] as? Int ?? 0) >= data.count)
            #expect((status["bytesRead"] as? Int ?? 0) >= data.count)
            #expect((status["sectorsEncrypted"] as? Int ?? 0) >= data.count / 4096)
            #expect((status["sectorsDecrypted"] as? Int ?? 0) >= data.count / 4096)
            #expect(status["handleFailures"] as? Int == 0)
            let requests = try #require(status["requests"] as? [String: Int])
            #expect((requests["write"] ?? 0) > 0 && (requests["read"] ?? 0) > 0 && (requests["lookup"] ?? 0) > 0)
            #expect((status["uptimeSeconds"] as? Double ?? -1) >= 0)

            let text = try runKLFS(["status", volume.mountPoint])
            #expect(text.status == 0)
            for expected in ["state:", "unlocked", "engine:", "keylocker-soft", "XTS kernel", "handles:",
                             "tweak no-decrypt", "IWKey:", "KeySource 0", "sectors:", "handle failures:"] {
                #expect(text.standardOutput.contains(expected), "\(expected) in \(text.standardOutput)")
            }
            let every = try runKLFS(["status", "--json"])
            #expect(every.status == 0)
            let mounts = try #require(try JSONSerialization.jsonObject(with: Data(every.standardOutput.utf8)) as? [[String: Any]])
            let listed = try #require(mounts.first { ($0["status"] as? [String: Any])?["pid"] as? Int == status["pid"] as? Int })
            #expect((listed["socket"] as? String)?.hasPrefix("/run/klfs/mount-") == true)
            #expect(listed["cipherDir"] as? String == volume.cipherDir)
        }
    }

    @Test func theSocketIsPrivateAndAnotherUserIsRefused() throws {
        try withMountedVolume { volume in
            let socket = try #require(controlSocket(of: volume))
            var st = stat()
            try #require(lstat(socket, &st) == 0)
            #expect(st.st_mode & 0o777 == 0o600)
            #expect(st.st_uid == getuid())
            // Opened up by hand, so that only SO_PEERCRED stands in the way.
            let directory = URL(fileURLWithPath: socket).deletingLastPathComponent().path
            chmod(directory, 0o711)
            chmod(socket, 0o666)
            defer {
                chmod(socket, 0o600)
                chmod(directory, 0o700)
            }
            let refused = try OrdinaryUser.run(klfsBinary, ["status", volume.mountPoint])
            #expect(refused.status == 37, "\(refused.standardError)")
            #expect(refused.standardError.contains("may not control this mount"))
            let suspend = try OrdinaryUser.run(klfsBinary, ["suspend", volume.mountPoint])
            #expect(suspend.status == 37)
            #expect(try volume.state() == "unlocked")
        }
    }

    @Test func suspendBlocksAReaderUntilResume() throws {
        try withMountedVolume { volume in
            let data = try writeSample(volume)
            try volume.control("suspend")
            #expect(try volume.state() == "suspended")
            let outcome = Outcome<Result<Data, SystemErrno>>()
            let path = volume.path("sample")
            let reader = Thread { outcome.set(uncachedContents(path)) }
            reader.start()
            usleep(500_000)
            #expect(outcome.value == nil, "the read finished while suspended")
            try volume.requireResume()
            #expect(outcome.wait(seconds: 30) == .success(data))
            #expect(try volume.state() == "unlocked")
        }
    }

    /// SIGTERM to a suspended daemon with a request waiting: the request
    /// gives up, and the daemon exits rather than waiting for a resume.
    @Test func aSuspendedDaemonStillEndsOnSIGTERM() throws {
        try withMountedVolume { volume in
            _ = try writeSample(volume)
            let daemon = try #require(volume.daemonPID())
            try volume.control("suspend")
            let outcome = Outcome<Result<Data, SystemErrno>>()
            let path = volume.path("sample")
            Thread { outcome.set(uncachedContents(path)) }.start()
            usleep(300_000)
            #expect(kill(daemon, SIGTERM) == 0)
            var exited = false
            for _ in 0..<100 where !exited {
                usleep(100_000)
                exited = kill(daemon, 0) != 0
            }
            #expect(exited, "the daemon still runs 10 s after SIGTERM")
            #expect(outcome.wait(seconds: 10).map { (try? $0.get()) == nil } == true, "the waiting read failed")
        }
    }

    @Test func lockFailsExtendedAttributesWithEKEYREVOKEDUntilResume() throws {
        try withMountedVolume(mountArguments: ["-o", "xattr"]) { volume in
            _ = try writeSample(volume)
            let path = volume.path("sample")
            #expect(setxattr(path, "user.colour", "blue", 4, 0) == 0)
            try volume.control("lock")
            var buffer = [CChar](repeating: 0, count: 256)
            #expect(listxattr(path, &buffer, buffer.count) == -1 && errno == EKEYREVOKED)
            #expect(getxattr(path, "user.colour", &buffer, buffer.count) == -1 && errno == EKEYREVOKED)
            try volume.requireResume()
            #expect(getxattr(path, "user.colour", &buffer, buffer.count) == 4)
            #expect(listxattr(path, &buffer, buffer.count) == "user.colour".utf8.count + 1)
        }
    }

    @Test func lockFailsReadsAndListingsWithEKEYREVOKEDUntilResume() throws {
        try withMountedVolume { volume in
            let data = try writeSample(volume)
            try volume.control("lock")
            #expect(try volume.state() == "locked")
            #expect(uncachedContents(volume.path("sample")) == .failure(SystemErrno(EKEYREVOKED)))
            #expect(listing(volume.mountPoint) == .failure(SystemErrno(EKEYREVOKED)))
            try volume.requireResume()
            #expect(uncachedContents(volume.path("sample")) == .success(data))
            #expect(listing(volume.mountPoint) == .success(["sample"]))
        }
    }

    /// A wrong passphrase keeps it locked; the master key resumes too.
    @Test func aWrongPassphraseOnResumeKeepsTheVolumeLocked() throws {
        try withMountedVolume { volume in
            _ = try writeSample(volume)
            try volume.control("lock")
            let wrong = volume.directory.appendingPathComponent("wrong").path
            try "not the passphrase\n".write(toFile: wrong, atomically: true, encoding: .utf8)
            let result = try volume.resume(passfile: wrong)
            #expect(result.status == 10, "\(result.standardError)")
            #expect(result.standardError.contains("passphrase"))
            #expect(try volume.state() == "locked")
            #expect(uncachedContents(volume.path("sample")) == .failure(SystemErrno(EKEYREVOKED)))
            let masterKey = try runKLFS(["resume", volume.mountPoint, "--masterkey", volume.masterKeyFile])
            #expect(masterKey.status == 0, "\(masterKey.standardError)")
            #expect(try volume.state() == "unlocked")
            #expect(try volume.resume().status == 0, "resume of an unlocked mount does nothing")
        }
    }

    /// keylocker-soft, and keylocker under the emulator (a LOADIWKEY of a
    /// new IWKey in the daemon).
    @Test(arguments: [("keylocker-soft", [String]()), ("keylocker", ["--emulate-keylocker"])])
    func anIWKeyLostMidMountLocksTheVolumeAndResumeRecovers(engine: String, extra: [String]) throws {
        try withMountedVolume(engine: engine, mountArguments: extra) { volume in
            let data = try writeSample(volume)
            try FileManager.default.createDirectory(atPath: volume.path("dir"), withIntermediateDirectories: false)
            try volume.control("iwkey-event", ["newKey"])
            #expect(uncachedContents(volume.path("sample")) == .failure(SystemErrno(EKEYREVOKED)))
            #expect(listing(volume.mountPoint) == .failure(SystemErrno(EKEYREVOKED)))
            let status = try volume.status()
            #expect(status["state"] as? String == "locked")
            #expect(status["cause"] as? String == "iwkey-lost")
            #expect((status["handleFailures"] as? Int ?? 0) >= 1)
            try volume.requireResume()
            #expect(uncachedContents(volume.path("sample")) == .success(data))
            #expect(try listing(volume.mountPoint).get().sorted() == ["dir", "sample"])
            #expect(try volume.state() == "unlocked")
        }
    }

    /// The daemon logs the IWKey loss once, however many requests meet
    /// it, and logs no file or name as damaged (what it did before the
    /// canary: a line per name, "handle rejected", and empty listings).
    @Test func anIWKeyLossIsLoggedOnceAndNothingAsDamaged() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        let log = volume.directory.appendingPathComponent("daemon.log")
        let process = try volume.mountInForeground(logTo: log, extraArguments: ["--engine", "keylocker-soft"])
        for index in 0..<5 { try Data("file \(index)".utf8).write(to: URL(fileURLWithPath: volume.path("f\(index)"))) }
        try volume.control("iwkey-event", ["newKey"])
        for _ in 0..<3 {
            #expect(listing(volume.mountPoint) == .failure(SystemErrno(EKEYREVOKED)))
            for index in 0..<5 {
                #expect(uncachedContents(volume.path("f\(index)")) == .failure(SystemErrno(EKEYREVOKED)))
            }
        }
        try volume.requireResume()
        #expect(try listing(volume.mountPoint).get().count == 5)
        #expect(try runKLFS(["unmount", volume.mountPoint]).status == 0)
        process.waitUntilExit()
        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.filter { $0.contains("the IWKey that wrapped this volume's handles is gone") }.count == 1, "\(lines)")
        #expect(!lines.contains { $0.contains("not a klfs file") || $0.contains("not listed") }, "\(lines)")
    }

    /// Four writers, each on a file of its own, while the IWKey is lost:
    /// every write either succeeded or failed with EKEYREVOKED; after
    /// resume the failed one is written again, and every file equals the
    /// writer's model.
    @Test func anIWKeyLostUnderFourWritersLosesNoAcknowledgedWrite() throws {
        try withMountedVolume { volume in
            let writers = (0..<4).map { LockingWriter(path: volume.path("file\($0)"), seed: UInt64($0)) }
            let group = DispatchGroup()
            for writer in writers {
                group.enter()
                Thread { writer.run(); group.leave() }.start()
            }
            usleep(300_000)
            try volume.control("iwkey-event", ["newKey"])
            try #require(group.wait(timeout: .now() + .seconds(60)) == .success, "writers did not stop")
            #expect(try volume.state() == "locked")
            try volume.requireResume()
            for writer in writers {
                #expect(writer.unexpected.isEmpty, "\(writer.unexpected)")
                #expect(writer.writesDone > 0)
                try writer.retryFailed()
                #expect(uncachedContents(writer.path) == .success(writer.model), "\(writer.path)")
            }
        }
    }

    /// The socket the daemon of `volume` listens on (the daemon runs as root).
    private func controlSocket(of volume: VolumeFixture) -> String? {
        guard let resolved = realpath(volume.mountPoint, nil) else { return nil }
        defer { free(resolved) }
        return ControlSocketPath.socket(for: String(cString: resolved), daemonUID: getuid())
    }
}

/// A value one thread sets and another waits for.
final class Outcome<Value: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var stored: Value?

    var value: Value? { condition.withLock { stored } }

    func set(_ value: Value) {
        condition.withLock {
            stored = value
            condition.broadcast()
        }
    }

    func wait(seconds: Double) -> Value? {
        let deadline = Date().addingTimeInterval(seconds)
        condition.lock()
        defer { condition.unlock() }
        while stored == nil && condition.wait(until: deadline) {}
        return stored
    }
}

/// One writer of the IWKey loss test: 4 KiB writes at pseudo-random
/// offsets of a 256 KiB file until one fails; the model holds every
/// write's bytes, the failed one's included, which ``retryFailed()``
/// writes again after resume.
final class LockingWriter: @unchecked Sendable {
    let path: String
    private var generator: SeededGenerator
    private(set) var model = Data()
    private(set) var writesDone = 0
    private(set) var failed: (offset: Int, bytes: [UInt8])?
    private(set) var unexpected: [String] = []
    static let span = 256 * 1024
    static let blockSize = 4096

    init(path: String, seed: UInt64) {
        self.path = path
        generator = SeededGenerator(seed: seed &+ 99)
    }

    func run() {
        let fd = open(path, O_CREAT | O_WRONLY, 0o600)
        guard fd >= 0 else { return unexpected.append("open: errno \(errno)") }
        defer { close(fd) }
        for _ in 0..<100_000 {
            let offset = Int.random(in: 0..<(Self.span / 512), using: &generator) * 512 + Int.random(in: 0..<7, using: &generator)
            let block = (0..<Self.blockSize).map { _ in UInt8.random(in: 0...255, using: &generator) }
            record(block, at: offset)
            let written = pwrite(fd, block, block.count, off_t(offset))
            if written == block.count {
                writesDone += 1
                continue
            }
            if written < 0 && errno != EKEYREVOKED { unexpected.append("pwrite: errno \(errno)") }
            failed = (offset, block)
            return
        }
        unexpected.append("the IWKey loss never reached this writer")
    }

    func retryFailed() throws {
        guard let failed else { return }
        let fd = try posix(open(path, O_WRONLY))
        defer { close(fd) }
        #expect(pwrite(fd, failed.bytes, failed.bytes.count, off_t(failed.offset)) == failed.bytes.count)
    }

    private func record(_ block: [UInt8], at offset: Int) {
        if model.count < offset + block.count { model.append(Data(count: offset + block.count - model.count)) }
        model.replaceSubrange(offset..<offset + block.count, with: block)
    }
}
