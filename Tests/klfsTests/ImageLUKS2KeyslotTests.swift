import Foundation
import Glibc
import KLTestSupport
import Testing

/// `klfs image add-key` / `remove-key` against cryptsetup's luksAddKey:
/// a keyslot added by either tool opens in the other; the last keyslot is
/// kept unless --force.
@Suite(.serialized, .enabled(if: Cryptsetup.available, "needs cryptsetup-bin"))
struct ImageLUKS2KeyslotTests {
    /// A second passphrase, as a passfile (klfs) and a keyfile (cryptsetup).
    private func secondPassphrase(_ fixture: ImageMountFixture) throws -> (passfile: String, keyfile: String) {
        let passfile = fixture.directory + "/second-passfile", keyfile = fixture.directory + "/second-keyfile"
        try "second passphrase\n".write(toFile: passfile, atomically: true, encoding: .utf8)
        try "second passphrase".write(toFile: keyfile, atomically: true, encoding: .utf8)
        return (passfile, keyfile)
    }

    @Test func aKeyslotKLFSAddsOpensInCryptsetup() throws {
        let fixture = try ImageMountFixture(size: "1M", type: "luks2")
        defer { fixture.tearDown() }
        let second = try secondPassphrase(fixture)
        let add = try runKLFS(["image", "add-key", fixture.image, "--passfile", fixture.passfile,
                               "--new-passfile", second.passfile, "--key-slot", "5"] + Cryptsetup.fastArgon2id)
        #expect(add.status == 0 && add.standardOutput.contains("Key slot 5 created"), "\(add.standardError)")
        #expect(try Cryptsetup.acceptsPassphrase(fixture.image, keyFile: second.keyfile, keyslot: 5))
        #expect(try Cryptsetup.acceptsPassphrase(fixture.image, keyFile: fixture.keyfile, keyslot: 0))
        let wrong = try runKLFS(["image", "add-key", fixture.image, "--keyfile", second.passfile,
                                 "--new-passfile", second.passfile] + Cryptsetup.fastArgon2id)
        #expect(wrong.status == 10, "no keyslot opens with the passphrase plus a newline: \(wrong.standardError)")
        let taken = try runKLFS(["image", "add-key", fixture.image, "--keyfile", fixture.keyfile,
                                 "--new-passfile", second.passfile, "--key-slot", "5"] + Cryptsetup.fastArgon2id)
        #expect(taken.status == 54 && taken.standardError.contains("keyslot 5 is already in use"), "\(taken.standardError)")
    }

    /// A keyslot luksAddKey made opens the mount (status names it); after
    /// klfs removes keyslot 0 the first passphrase no longer opens, in
    /// either tool; the last keyslot goes only with --force.
    @Test func aKeyslotCryptsetupAddsOpensInKLFSAndRemovalIsSeenByBoth() throws {
        let fixture = try ImageMountFixture(size: "1M", type: "luks2")
        defer { fixture.tearDown() }
        let second = try secondPassphrase(fixture)
        try Cryptsetup.succeed(["luksAddKey", "--batch-mode", "--key-file", fixture.keyfile] + Cryptsetup.fastArgon2id
            + [fixture.image, second.keyfile])
        try fixture.requireOpen(key: ["--passfile", second.passfile])
        let status = try runKLFS(["status", "--json", fixture.mountPoint])
        let report = try JSONSerialization.jsonObject(with: Data(status.standardOutput.utf8)) as? [String: Any]
        let image = report?["image"] as? [String: Any]
        #expect(image?["type"] as? String == "luks2" && image?["keyslot"] as? Int == 1, "\(status.standardOutput)")
        fixture.close()

        let remove = try runKLFS(["image", "remove-key", fixture.image, "--key-slot", "0"])
        #expect(remove.status == 0, "\(remove.standardError)")
        #expect(try !Cryptsetup.acceptsPassphrase(fixture.image, keyFile: fixture.keyfile))
        #expect(try fixture.open(["-f"]).status == 10)
        let last = try runKLFS(["image", "remove-key", fixture.image, "--key-slot", "1"])
        #expect(last.status == 54 && last.standardError.contains("last one"), "\(last.standardError)")
        #expect(try Cryptsetup.acceptsPassphrase(fixture.image, keyFile: second.keyfile))
        let missing = try runKLFS(["image", "remove-key", fixture.image, "--key-slot", "7"])
        #expect(missing.status == 54 && missing.standardError.contains("not in use"))
        #expect(try runKLFS(["image", "remove-key", fixture.image, "--key-slot", "1", "--force"]).status == 0)
        #expect(try !Cryptsetup.acceptsPassphrase(fixture.image, keyFile: second.keyfile))
    }
}
