import Foundation
import Glibc
import KLTestSupport
import Testing

/// A wrong passphrase, a corrupt header and an unsupported feature each
/// have their exit code and message, mount nothing, and leave the image
/// byte for byte as it was; `dump` shows what it can.
@Suite(.serialized, .enabled(if: Cryptsetup.available, "needs cryptsetup-bin"))
struct ImageLUKS2FailureTests {
    /// `klfs image open` in the foreground (a failure must not fork), with
    /// the image's bytes compared before and after.
    private func expectRefused(_ fixture: ImageMountFixture, key: [String]? = nil, status: Int32, message: String) throws {
        let before = try fixture.imageContents()
        let result = try fixture.open(["-f"], key: key)
        #expect(result.status == status && result.standardError.contains(message), "\(result.status): \(result.standardError)")
        #expect(!fixture.isMounted)
        #expect(try fixture.imageContents() == before)
    }

    @Test func aWrongPassphraseIsExit10() throws {
        let fixture = try ImageMountFixture(size: "1M", type: "luks2")
        defer { fixture.tearDown() }
        try expectRefused(fixture, key: ["--keyfile", fixture.passfile], status: 10, message: "wrong passphrase")
        try expectRefused(fixture, key: ["--passfile", fixture.passfile, "--key-slot", "3"], status: 54, message: "keyslot 3 is not in use")
    }

    /// The primary's magic wiped: the image still opens and dumps from the
    /// secondary, and dump says which copy is bad. The secondary's JSON
    /// damaged as well (its checksum fails): exit 53, for dump too.
    @Test func aCorruptHeaderIsExit53() throws {
        let fixture = try ImageMountFixture(size: "1M", type: "luks2")
        defer { fixture.tearDown() }
        for offset in 0..<6 { try flipByte(fixture.image, at: offset) }
        let oneCopy = try runKLFS(["image", "dump", fixture.image])
        #expect(oneCopy.status == 0 && oneCopy.standardOutput.contains("primary corrupt"), "\(oneCopy.standardOutput)")
        try fixture.requireOpen()
        fixture.close()
        try flipByte(fixture.image, at: (16 << 10) + 4096 + 100)
        try expectRefused(fixture, status: 53, message: "both LUKS2 header copies are corrupt")
        let dump = try runKLFS(["image", "dump", fixture.image])
        #expect(dump.status == 53 && dump.standardError.contains("corrupt"), "\(dump.standardError)")
        let plainImage = try ImageMountFixture(size: "1M", type: "plain")
        defer { plainImage.tearDown() }
        let notLUKS = try runKLFS(["image", "open", plainImage.image, plainImage.mountPoint, "--passfile", plainImage.passfile, "-f"])
        #expect(notLUKS.status == 53 && notLUKS.standardError.contains("is not a LUKS image"), "\(notLUKS.standardError)")
    }

    /// aes-cbc-essiv (cryptsetup makes it on a file): exit 52 naming the
    /// cipher; dump still works and shows it.
    @Test func anUnsupportedCipherIsExit52() throws {
        let fixture = try ImageMountFixture(type: "luks2", format: false)
        defer { fixture.tearDown() }
        try Cryptsetup.format(fixture.image, keyFile: fixture.keyfile,
                              extra: ["--cipher", "aes-cbc-essiv:sha256", "--key-size", "256"] + Cryptsetup.fastPBKDF2)
        try expectRefused(fixture, status: 52, message: "cipher aes-cbc-essiv:sha256 is not supported")
        let dump = try runKLFS(["image", "dump", fixture.image])
        #expect(dump.status == 0 && dump.standardOutput.contains("cipher: aes-cbc-essiv:sha256"), "\(dump.standardError)")
        let add = try runKLFS(["image", "add-key", fixture.image, "--keyfile", fixture.keyfile, "--new-passfile", fixture.passfile])
        #expect(add.status == 52, "an image klfs cannot open is not one it changes: \(add.standardError)")
    }

    private func flipByte(_ path: String, at offset: Int) throws {
        let fd = open(path, O_RDWR)
        try #require(fd >= 0)
        defer { close(fd) }
        var byte: UInt8 = 0
        try #require(pread(fd, &byte, 1, off_t(offset)) == 1)
        byte ^= 0x20
        try #require(pwrite(fd, &byte, 1, off_t(offset)) == 1)
    }
}
