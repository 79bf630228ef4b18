import Foundation
import Glibc
@testable import KLBlock
import KLTestSupport
import Testing

/// `klfs image` on LUKS2 images for real, against cryptsetup: images
/// cryptsetup makes open in klfs and what klfs writes decrypts with
/// OpenSSL under the key `luksDump --dump-volume-key` prints; images klfs
/// makes pass cryptsetup; a non-zero iv_tweak follows dm-crypt's rule.
@Suite(.serialized, .enabled(if: Cryptsetup.available, "needs cryptsetup-bin"))
struct ImageLUKS2Tests {
    /// LUKS2's data segment starts 16 MiB in, in cryptsetup's and klfs's layout.
    static let dataOffset = 16 << 20

    /// Unaligned writes through the mount of a cryptsetup-made image;
    /// after close, every sector of the data segment decrypts with OpenSSL
    /// under cryptsetup's volume key, IVs counted in the segment's sectors.
    /// Opened with the passphrase's line (--passfile) or, for 512, with the
    /// same bytes as cryptsetup's --key-file (--keyfile).
    @Test(arguments: [512, 4096])
    func cryptsetupImagesDecryptSectorForSector(sectorSize: Int) throws {
        let fixture = try ImageMountFixture(type: "luks2", format: false)
        defer { fixture.tearDown() }
        try Cryptsetup.format(fixture.image, keyFile: fixture.keyfile,
                              extra: ["--cipher", "aes-xts-plain64", "--key-size", "512", "--sector-size", "\(sectorSize)"]
                                + Cryptsetup.fastArgon2id)
        try expectWritesDecrypt(fixture, sectorSize: sectorSize, ivTweak: 0,
                                key: sectorSize == 512 ? ["--keyfile", fixture.keyfile] : nil)
    }

    /// iv_tweak is dm-crypt's iv_offset, in 512-byte sectors, whatever the
    /// sector size (cryptsetup hands it to dm-crypt unchanged): with
    /// 4096-byte sectors, iv_tweak 80 adds 10 to each sector's IV, not 80.
    /// The header is edited with klfs's writer (cryptsetup sets iv_tweak
    /// only mid-reencryption).
    @Test(arguments: [(512, UInt64(1000)), (4096, UInt64(80))])
    func aNonZeroIVTweakCountsIn512ByteSectors(sectorSize: Int, ivTweak: UInt64) throws {
        let fixture = try ImageMountFixture(size: "4M", type: "luks2", formatOptions: ["--sector-size", "\(sectorSize)"])
        defer { fixture.tearDown() }
        let file = try LUKS2ImageFile(path: fixture.image, writable: true)
        let header = try LUKS2Header.read(from: file)
        var json = header.json
        json.set(["segments", "0", "iv_tweak"], to: .string(String(ivTweak)))
        #expect(try header.replaced(by: json, in: file).metadata.segments[0]?.ivTweak == ivTweak)
        try expectWritesDecrypt(fixture, sectorSize: sectorSize, ivTweak: ivTweak)
    }

    /// Opens the fixture's image with the passfile (or `key`), writes,
    /// closes, and decrypts the data segment with OpenSSL under
    /// cryptsetup's key.
    private func expectWritesDecrypt(_ fixture: ImageMountFixture, sectorSize: Int, ivTweak: UInt64,
                                     key: [String]? = nil) throws {
        try fixture.requireOpen(key: key)
        let model = try ImageContents.writeRandomly(fixture.device, seed: UInt64(sectorSize) + ivTweak)
        fixture.close()
        #expect(!fixture.isMounted)
        let key = try Cryptsetup.volumeKey(fixture.image, keyFile: fixture.keyfile)
        let decrypted = try decryptPlainImage(fixture.image, key: key, offset: Self.dataOffset / 512, skip: ivTweak,
                                              sectorSize: sectorSize, largeSectors: true)
        #expect(decrypted.count == model.count)
        #expect(ImageContents.firstDifferingSector(decrypted, model, sectorSize: sectorSize) == nil)
    }

    /// An image `klfs image format` makes: 16 MiB + --size bytes, which
    /// cryptsetup dumps and opens with the passphrase (and not with
    /// another), and whose volume key, as cryptsetup prints it, decrypts
    /// what klfs wrote.
    @Test(arguments: [512, 4096])
    func klfsFormattedImagesPassCryptsetup(sectorSize: Int) throws {
        let fixture = try ImageMountFixture(size: "2M", type: "luks2", formatOptions: ["--sector-size", "\(sectorSize)"])
        defer { fixture.tearDown() }
        #expect(try fixture.imageContents().count == Self.dataOffset + (2 << 20))
        let dump = try Cryptsetup.succeed(["luksDump", fixture.image]).output
        #expect(dump.contains("cipher: aes-xts-plain64") && dump.contains("sector: \(sectorSize) [bytes]"), "\(dump)")
        #expect(dump.contains("PBKDF:      argon2id") && dump.contains("Memory:     32"), "\(dump)")
        #expect(try Cryptsetup.acceptsPassphrase(fixture.image, keyFile: fixture.keyfile))
        #expect(try !Cryptsetup.acceptsPassphrase(fixture.image, keyFile: fixture.passfile), "the passphrase plus a newline is another passphrase")
        try expectWritesDecrypt(fixture, sectorSize: sectorSize, ivTweak: 0)
    }

    /// --size must be a multiple of the sector size; an image that holds
    /// data is kept unless --force; --pbkdf pbkdf2 takes iterations only.
    @Test func formatRefusesWhatCryptsetupWouldNotMake() throws {
        let fixture = try ImageMountFixture(size: "1M", type: "luks2")
        defer { fixture.tearDown() }
        let before = try fixture.imageContents()
        let again = try runKLFS(["image", "format", fixture.image, "--size", "1M", "--passfile", fixture.passfile])
        #expect(again.status == 51 && again.standardError.contains("--force"), "\(again.standardError)")
        #expect(try fixture.imageContents() == before)
        let odd = try runKLFS(["image", "format", fixture.directory + "/odd", "--size", "6K", "--passfile", fixture.passfile])
        #expect(odd.status == 64 && odd.standardError.contains("multiple of the sector size 4096"), "\(odd.standardError)")
        let memory = try runKLFS(["image", "format", fixture.directory + "/p", "--size", "1M", "--passfile", fixture.passfile,
                                  "--pbkdf", "pbkdf2", "--pbkdf-memory", "32"])
        #expect(memory.status == 64)
        let pbkdf2 = try runKLFS(["image", "format", fixture.image, "--size", "1M", "--passfile", fixture.passfile, "--force",
                                  "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"])
        #expect(pbkdf2.status == 0, "\(pbkdf2.standardError)")
        #expect(try Cryptsetup.succeed(["luksDump", fixture.image]).output.contains("Iterations: 1000"))
        #expect(try Cryptsetup.acceptsPassphrase(fixture.image, keyFile: fixture.keyfile))
    }
}
