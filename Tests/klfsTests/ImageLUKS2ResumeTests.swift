import Foundation
import Glibc
import KLTestSupport
import Testing

/// suspend, lock and resume on a LUKS2 image mount: resume opens a
/// keyslot with the passphrase sent; a wrong one, or the passphrase of
/// another image put at the same path, leaves the mount as it was.
@Suite(.serialized, .enabled(if: Cryptsetup.available, "needs cryptsetup-bin"))
struct ImageLUKS2ResumeTests {
    private func report(_ fixture: ImageMountFixture) throws -> [String: Any] {
        let status = try runKLFS(["status", "--json", fixture.mountPoint])
        try #require(status.status == 0, "\(status.standardError)")
        return try #require(try JSONSerialization.jsonObject(with: Data(status.standardOutput.utf8)) as? [String: Any])
    }

    private func resume(_ fixture: ImageMountFixture, _ passfile: String) throws -> CommandResult {
        try runKLFS(["resume", fixture.mountPoint, "--passfile", passfile])
    }

    @Test func resumeTakesOnlyAPassphraseOfThisVolume() throws {
        let fixture = try ImageMountFixture(size: "1M", type: "luks2")
        defer { fixture.tearDown() }
        try fixture.requireOpen()
        var status = try report(fixture)
        let image = status["image"] as? [String: Any]
        #expect(status["mode"] as? String == "image" && status["cipherDir"] as? String == fixture.image)
        #expect(image?["type"] as? String == "luks2" && image?["keyslot"] as? Int == 0 && image?["sectorSize"] as? Int == 4096)
        #expect(image?["payloadOffset"] as? Int == 16 << 20)
        let text = try runKLFS(["status", fixture.mountPoint]).standardOutput
        #expect(text.contains("luks2, keyslot 0") && text.contains("sector size 4096"), "\(text)")

        let wrong = fixture.directory + "/wrong"
        try "wrong passphrase\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        let device = try DirectDevice(fixture.device)
        let written = [UInt8](repeating: 0x42, count: 4096)
        #expect(device.write(written))

        for command in ["lock", "suspend"] {
            #expect(try runKLFS([command, fixture.mountPoint]).status == 0)
            let state = command == "lock" ? "locked" : "suspended"
            if command == "lock" { #expect(device.read() == nil && errno == EKEYREVOKED) }
            let refused = try resume(fixture, wrong)
            #expect(refused.status == 10 && refused.standardError.contains("wrong passphrase"), "\(refused.standardError)")
            #expect(try report(fixture)["state"] as? String == state)
            #expect(try resume(fixture, fixture.passfile).status == 0)
            #expect(try report(fixture)["state"] as? String == "unlocked")
            #expect(device.read() == written)
        }

        // A keyslot added while mounted resumes it; status names it.
        let second = fixture.directory + "/second"
        try "second passphrase".write(toFile: second, atomically: true, encoding: .utf8)
        try Cryptsetup.succeed(["luksAddKey", "--batch-mode", "--key-file", fixture.keyfile] + Cryptsetup.fastArgon2id
            + [fixture.image, second])
        #expect(try runKLFS(["lock", fixture.mountPoint]).status == 0)
        #expect(try resume(fixture, second).status == 0)
        status = try report(fixture)
        #expect((status["image"] as? [String: Any])?["keyslot"] as? Int == 1)

        // Another image, same passphrase, renamed over the path: its keyslot
        // opens, but its volume key fails the digest of the mount's header.
        let other = fixture.directory + "/other"
        let format = try runKLFS(["image", "format", other, "--size", "1M", "--passfile", fixture.passfile] + Cryptsetup.fastArgon2id)
        try #require(format.status == 0, "\(format.standardError)")
        try #require(link(fixture.image, fixture.image + ".mounted") == 0 && rename(other, fixture.image) == 0)
        #expect(try runKLFS(["lock", fixture.mountPoint]).status == 0)
        let swapped = try resume(fixture, fixture.passfile)
        #expect(swapped.status == 14 && swapped.standardError.contains("does not match"), "\(swapped.standardError)")
        #expect(try report(fixture)["state"] as? String == "locked")
        try #require(rename(fixture.image + ".mounted", fixture.image) == 0)
        #expect(try resume(fixture, fixture.passfile).status == 0)
        #expect(device.read() == written)
    }

    /// A mount opened with --keyfile resumes from that keyfile, read again;
    /// the passphrase sent is ignored, as for a plain keyfile mount.
    @Test func aKeyfileMountResumesFromItsKeyfile() throws {
        let fixture = try ImageMountFixture(size: "1M", type: "luks2")
        defer { fixture.tearDown() }
        try fixture.requireOpen(key: ["--keyfile", fixture.keyfile])
        let device = try DirectDevice(fixture.device)
        let written = [UInt8](repeating: 0x17, count: 4096)
        #expect(device.write(written))
        #expect(try runKLFS(["lock", fixture.mountPoint]).status == 0)
        #expect(device.read() == nil && errno == EKEYREVOKED)
        let other = fixture.directory + "/other"
        try "not the passphrase\n".write(toFile: other, atomically: true, encoding: .utf8)
        let resumed = try resume(fixture, other)
        #expect(resumed.status == 0, "\(resumed.standardError)")
        #expect(device.read() == written)
    }
}

/// The plaintext file opened with O_DIRECT, so that reads reach the daemon
/// rather than the page cache; one 4096-byte block at offset 0.
final class DirectDevice {
    private let fd: Int32
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 4096)

    init(_ path: String) throws {
        // O_DIRECT is behind _GNU_SOURCE, so by value: x86-64's 0o40000.
        fd = open(path, O_RDWR | 0o40000)
        try #require(fd >= 0, "open \(path): \(String(cString: strerror(errno)))")
    }

    deinit {
        close(fd)
        buffer.deallocate()
    }

    func write(_ bytes: [UInt8]) -> Bool {
        buffer.copyBytes(from: bytes)
        return pwrite(fd, buffer.baseAddress, 4096, 0) == 4096
    }

    /// nil on failure (errno says why).
    func read() -> [UInt8]? {
        pread(fd, buffer.baseAddress, 4096, 0) == 4096 ? Array(buffer) : nil
    }
}
