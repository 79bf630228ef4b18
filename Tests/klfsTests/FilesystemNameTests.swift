import COpenSSL
import CFuse
import CSodium
import Foundation
import Glibc
import Testing

/// Encrypted names through a real mount: what the backing dir shows, the
/// format read back with nothing but docs/FORMAT.md, renames across
/// directories, long names, hard links, big directories, foreign names.
@Suite struct FilesystemNameTests {
    @Test func theBackingDirectoryShowsNoPlaintextNameOrTarget() throws {
        try withMountedVolume { volume in
            #expect(mkdir(volume.path("secret-dir"), 0o755) == 0)
            try Data("x".utf8).write(to: URL(fileURLWithPath: volume.path("secret-dir/secret-file")))
            #expect(symlink("secret-target", volume.path("secret-link")) == 0)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: volume.path("secret-link")) == "secret-target")
            for relative in try FileManager.default.subpathsOfDirectory(atPath: volume.cipherDir) {
                #expect(!relative.contains("secret"), "\(relative)")
                let target = try? FileManager.default.destinationOfSymbolicLink(atPath: volume.backingPath(relative))
                #expect(target.map { !$0.contains("secret") } ?? true)
            }
            #expect(FileManager.default.fileExists(atPath: volume.backingPath("klfs.diriv")))
        }
    }

    /// Reads one backing name, one long name's sidecar and one symlink
    /// target using only what docs/FORMAT.md says, with libsodium's BLAKE2b
    /// and OpenSSL's AES-256-ECB and AES-256-XTS; EME is written out here
    /// from the document's steps.
    @Test func backingNamesDecodeByTheFormatDocumentAlone() throws {
        try withMountedVolume { volume in
            #expect(mkdir(volume.path("sub"), 0o755) == 0)
            let name = "Quarterly report, 2026 (final).ods"
            let longName = String(repeating: "L", count: 230)
            try Data().write(to: URL(fileURLWithPath: volume.path("sub/" + name)))
            try Data().write(to: URL(fileURLWithPath: volume.path("sub/" + longName)))
            #expect(symlink("../elsewhere/target file", volume.path("sub/link")) == 0)

            let namesKey = SpecReader.namesKey(masterKey: volume.masterKey)
            let sub = try #require(try FileManager.default.contentsOfDirectory(atPath: volume.cipherDir)
                .first { !$0.hasPrefix("klfs.") })
            let directory = volume.backingPath(sub)
            let iv = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/klfs.diriv")))
            #expect(iv.count == 16)
            var decoded: [String] = []
            for entry in try FileManager.default.contentsOfDirectory(atPath: directory) {
                if entry == "klfs.diriv" || entry.hasSuffix(".name") { continue }
                let encoded = entry.hasPrefix("klfs.longname.")
                    ? try String(contentsOfFile: directory + "/" + entry + ".name", encoding: .utf8) : entry
                decoded.append(String(decoding: try #require(SpecReader.decryptName(encoded, key: namesKey, iv: iv)),
                                      as: UTF8.self))
                if entry.hasPrefix("klfs.longname.") {
                    #expect(entry == "klfs.longname." + SpecReader.base64url(SpecReader.sha256(Array(encoded.utf8))))
                }
                var st = stat()
                if lstat(directory + "/" + entry, &st) == 0 && st.st_mode & S_IFMT == S_IFLNK {
                    let stored = try FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + entry)
                    let target = try #require(SpecReader.decryptTarget(stored, masterKey: volume.masterKey))
                    #expect(String(decoding: target, as: UTF8.self) == "../elsewhere/target file")
                }
            }
            #expect(Set(decoded) == [name, longName, "link"])
        }
    }

    @Test func renamesAcrossDirectoriesLongNamesAndHardLinks() throws {
        try withMountedVolume { volume in
            let long = String(repeating: "ä", count: 127)  // 254 bytes
            for directory in ["a", "b"] { #expect(mkdir(volume.path(directory), 0o755) == 0) }
            try Data("one".utf8).write(to: URL(fileURLWithPath: volume.path("a/one")))
            try Data("two".utf8).write(to: URL(fileURLWithPath: volume.path("b/" + long)))
            let inode = try attributes(volume.path("a/one")).st_ino

            // Short to long across directories, and back.
            #expect(rename(volume.path("a/one"), volume.path("b/" + long + "ab")) == -1 && errno == ENAMETOOLONG)
            #expect(rename(volume.path("a/one"), volume.path("b/x" + String(long.dropFirst()))) == 0)
            #expect(try attributes(volume.path("b/x" + String(long.dropFirst()))).st_ino == inode)
            #expect(rename(volume.path("b/x" + String(long.dropFirst())), volume.path("a/one")) == 0)
            // Exchange a short name in a with a long one in b, then no-replace.
            #expect(cfuse_renameat2(AT_FDCWD, volume.path("a/one"), AT_FDCWD, volume.path("b/" + long), cfuse_rename_exchange) == 0)
            #expect(try String(contentsOfFile: volume.path("a/one"), encoding: .utf8) == "two")
            #expect(try String(contentsOfFile: volume.path("b/" + long), encoding: .utf8) == "one")
            #expect(cfuse_renameat2(AT_FDCWD, volume.path("a/one"), AT_FDCWD, volume.path("b/" + long), cfuse_rename_noreplace) == -1
                    && errno == EEXIST)
            // Hard links under a long and a short name, across directories.
            #expect(link(volume.path("b/" + long), volume.path("a/" + long)) == 0)
            #expect(link(volume.path("b/" + long), volume.path("a/short")) == 0)
            #expect(try attributes(volume.path("a/" + long)).st_nlink == 3)
            // Renaming one hard link onto another changes nothing.
            #expect(rename(volume.path("a/short"), volume.path("a/" + long)) == 0)
            #expect(try Set(FileManager.default.contentsOfDirectory(atPath: volume.path("a"))) == ["one", long, "short"])
            #expect(try String(contentsOfFile: volume.path("a/" + long), encoding: .utf8) == "one")
            for path in ["a/" + long, "a/short", "b/" + long, "a/one"] { #expect(unlink(volume.path(path)) == 0) }
            // Only the IV files are left, so rmdir works; no sidecar survives.
            #expect(rmdir(volume.path("a")) == 0 && rmdir(volume.path("b")) == 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: volume.cipherDir).sorted() == ["klfs.conf", "klfs.diriv"])
        }
    }

    @Test func directoriesWithLongNamesAndRestrictiveModes() throws {
        try withMountedVolume { volume in
            let long = String(repeating: "d", count: 255)
            #expect(mkdir(volume.path(long), 0o500) == 0)
            let mode = try attributes(volume.path(long)).st_mode & 0o777
            #expect(mode == 0o500)
            #expect(chmod(volume.path(long), 0o700) == 0)
            #expect(mkdir(volume.path(long + "/" + long), 0o755) == 0)
            #expect(rmdir(volume.path(long)) == -1 && errno == ENOTEMPTY)
            #expect(rmdir(volume.path(long + "/" + long)) == 0)
            #expect(rmdir(volume.path(long)) == 0)
            #expect(open(volume.path(long + "x"), O_CREAT | O_RDWR, 0o600) == -1 && errno == ENAMETOOLONG)
        }
    }

    @Test func readdirListsTenThousandEntries() throws {
        try withMountedVolume { volume in
            #expect(mkdir(volume.path("big"), 0o755) == 0)
            let names = (0..<10_000).map { "entry-\($0)" }
            for name in names {
                let fd = open(volume.path("big/" + name), O_CREAT | O_WRONLY, 0o644)
                #expect(fd >= 0)
                close(fd)
            }
            #expect(try Set(FileManager.default.contentsOfDirectory(atPath: volume.path("big"))) == Set(names))
            // readdirplus (ls -l style), through the whole directory.
            let listing = try FileManager.default.contentsOfDirectory(at: URL(fileURLWithPath: volume.path("big")),
                                                                     includingPropertiesForKeys: [.fileSizeKey])
            #expect(listing.count == 10_000)
        }
    }

    /// A name klfs did not write (a stray file, a cut-off name, a sidecar
    /// that does not match) is left out of listings with one log line each,
    /// however often the directory is read; the rest lists normally.
    @Test func foreignAndDamagedNamesAreSkippedWithOneLogLineEach() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        let log = volume.directory.appendingPathComponent("daemon.log")
        let process = try volume.mountInForeground(logTo: log, extraArguments: ["--engine", "keylocker-soft"])

        try Data("good".utf8).write(to: URL(fileURLWithPath: volume.path("good")))
        try Data("cut".utf8).write(to: URL(fileURLWithPath: volume.path("cut")))
        let cut = try volume.backingPath(ofMounted: "cut")
        #expect(rename(cut, String(cut.dropLast())) == 0)
        try Data().write(to: URL(fileURLWithPath: volume.backingPath("notes.txt")))
        try Data().write(to: URL(fileURLWithPath: volume.backingPath("klfs.longname.AAAA")))
        for _ in 0..<3 {
            #expect(try FileManager.default.contentsOfDirectory(atPath: volume.mountPoint) == ["good"])
        }
        #expect(try runKLFS(["unmount", volume.mountPoint]).status == 0)
        process.waitUntilExit()
        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
        for stray in ["notes.txt", String(URL(fileURLWithPath: cut).lastPathComponent.dropLast()), "klfs.longname.AAAA"] {
            #expect(lines.filter { $0.contains(stray + " in backing directory") }.count == 1, "\(stray): \(lines)")
        }
    }

    /// `init --plaintext-names` (like a volume made before names were
    /// encrypted: no feature flag) stores names and targets as given.
    @Test func plaintextNamesVolumesStoreNamesAsGiven() throws {
        try withMountedVolume(plaintextNames: true) { volume in
            try Data("v".utf8).write(to: URL(fileURLWithPath: volume.path("visible")))
            #expect(symlink("visible", volume.path("link")) == 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: volume.cipherDir).sorted() == ["klfs.conf", "link", "visible"])
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: volume.backingPath("link")) == "visible")
            let info = try runKLFS(["info", volume.cipherDir])
            #expect(info.standardOutput.contains("Feature flags:  none"))
        }
    }
}

/// docs/FORMAT.md, "Names", "Symlink targets" and "Extended attributes",
/// implemented from the text with library primitives only (no klfs code).
enum SpecReader {
    static func namesKey(masterKey: [UInt8]) -> [UInt8] { derivedKey("klfs names key v1", masterKey: masterKey) }

    static func xattrKey(masterKey: [UInt8]) -> [UInt8] { derivedKey("klfs xattr key v2", masterKey: masterKey) }

    /// A derived key: BLAKE2b-256, keyed with the 64-byte master key, of
    /// the ASCII text `label`.
    static func derivedKey(_ label: String, masterKey: [UInt8]) -> [UInt8] {
        let label = Array(label.utf8)
        var out = [UInt8](repeating: 0, count: 32)
        precondition(sodium_init() >= 0)
        _ = crypto_generichash(&out, 32, label, UInt64(label.count), masterKey, masterKey.count)
        return out
    }

    static func base64urlDecode(_ text: String) -> [UInt8]? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.count % 4 != 0 { standard += "=" }
        return Data(base64Encoded: standard).map(Array.init)
    }

    static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        _ = crypto_hash_sha256(&out, bytes, UInt64(bytes.count))
        return out
    }

    static func aesECB(encrypt: Bool, key: [UInt8], _ input: [UInt8]) -> [UInt8] {
        let context = EVP_CIPHER_CTX_new()!
        defer { EVP_CIPHER_CTX_free(context) }
        _ = EVP_CipherInit_ex(context, EVP_aes_256_ecb(), nil, key, nil, encrypt ? 1 : 0)
        EVP_CIPHER_CTX_set_padding(context, 0)
        var output = [UInt8](repeating: 0, count: input.count)
        var written: Int32 = 0
        _ = EVP_CipherUpdate(context, &output, &written, input, Int32(input.count))
        return output
    }

    /// x * 2 in GF(2^128), byte 0 least significant, reduction 0x87.
    static func times2(_ block: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        out[0] = (block[0] << 1) ^ (block[15] >= 0x80 ? 0x87 : 0)
        for i in 1..<16 { out[i] = (block[i] << 1) | (block[i - 1] >> 7) }
        return out
    }

    static func xor(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] { zip(a, b).map { $0 ^ $1 } }

    /// EME decryption as the document's steps give it, AES decryption in
    /// place of encryption everywhere except L.
    static func emeDecrypt(_ c: [UInt8], key: [UInt8], tweak: [UInt8]) -> [UInt8] {
        let m = c.count / 16
        var l = times2(aesECB(encrypt: true, key: key, [UInt8](repeating: 0, count: 16)))
        var ls: [[UInt8]] = []
        for _ in 0..<m { ls.append(l); l = times2(l) }
        let blocks = (0..<m).map { Array(c[(16 * $0)..<(16 * $0 + 16)]) }
        var ppp = (0..<m).map { aesECB(encrypt: false, key: key, xor(blocks[$0], ls[$0])) }
        var mp = tweak
        for block in ppp { mp = xor(mp, block) }
        let mc = aesECB(encrypt: false, key: key, mp)
        var mixer = xor(mp, mc)
        var sum = [UInt8](repeating: 0, count: 16)
        for j in 1..<max(m, 1) {
            mixer = times2(mixer)
            ppp[j] = xor(ppp[j], mixer)
            sum = xor(sum, ppp[j])
        }
        ppp[0] = xor(xor(mc, tweak), sum)
        return (0..<m).flatMap { xor(aesECB(encrypt: false, key: key, ppp[$0]), ls[$0]) }
    }

    static func unpad(_ bytes: [UInt8]) -> [UInt8]? {
        guard let last = bytes.last, (1...16).contains(last),
              bytes.suffix(Int(last)).allSatisfy({ $0 == last }) else { return nil }
        return Array(bytes.dropLast(Int(last)))
    }

    static func decryptName(_ encoded: String, key: [UInt8], iv: [UInt8]) -> [UInt8]? {
        guard let c = base64urlDecode(encoded), c.count % 16 == 0, !c.isEmpty else { return nil }
        return unpad(emeDecrypt(c, key: key, tweak: iv))
    }

    /// base64url of the target sealed at sector 2^64 - 1.
    static func decryptTarget(_ stored: String, masterKey: [UInt8]) -> [UInt8]? {
        base64urlDecode(stored).flatMap { openDataUnit($0, sector: 0xFFFF_FFFF_FFFF_FFFF, masterKey: masterKey) }
    }

    /// nonce N (8 bytes) || AES-256-XTS(K1 || K2) of the padded bytes, one
    /// data unit, IV = `sector` as 8 little-endian bytes, then N.
    static func openDataUnit(_ bytes: [UInt8], sector: UInt64, masterKey: [UInt8]) -> [UInt8]? {
        guard bytes.count >= 24 else { return nil }
        let iv = withUnsafeBytes(of: sector.littleEndian) { Array($0) } + bytes[0..<8]
        let data = Array(bytes[8...])
        let context = EVP_CIPHER_CTX_new()!
        defer { EVP_CIPHER_CTX_free(context) }
        _ = EVP_CipherInit_ex(context, EVP_aes_256_xts(), nil, masterKey, iv, 0)
        var output = [UInt8](repeating: 0, count: data.count)
        var written: Int32 = 0
        _ = EVP_CipherUpdate(context, &output, &written, data, Int32(data.count))
        return unpad(output)
    }
}
