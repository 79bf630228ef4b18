import CFuse
import Foundation
import Glibc
import KLTestSupport
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
