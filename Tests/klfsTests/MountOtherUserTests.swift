import Foundation
import Glibc
import KLBlock
import Testing

/// A second, unprivileged user on an `allow_other` mount served by a root
/// daemon: the kernel judges their rights by the mode bits, and their
/// writes drop set-user-ID and set-group-ID bits as on a local filesystem.
@Suite struct MountOtherUserTests {
    /// Runs `script` with sh as nobody (uid and gid 65534, in `groups`
    /// besides); returns its exit status.
    private func asNobody(_ script: String, in directory: String, groups: [gid_t] = []) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        let groupOption = groups.isEmpty ? "--clear-groups" : "--groups=" + groups.map(String.init).joined(separator: ",")
        process.arguments = ["--reuid=65534", "--regid=65534", groupOption, "/bin/sh", "-c", script]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    private func mode(_ path: String) throws -> mode_t {
        var st = stat()
        try #require(lstat(path, &st) == 0)
        return st.st_mode & 0o7777
    }

    @Test func anotherUserGetsWhatTheModeBitsGiveAndTheirWritesDropSetID() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        // nobody must be able to reach the mount point.
        try #require(chmod(volume.directory.path, 0o755) == 0)
        try volume.requireMount(["-o", "allow_other"])

        let shared = volume.path("shared")
        try Data("root wrote this\n".utf8).write(to: URL(fileURLWithPath: shared))
        try #require(chmod(shared, 0o6777) == 0)
        let secret = volume.path("secret")
        try Data("root only\n".utf8).write(to: URL(fileURLWithPath: secret))
        try #require(chmod(secret, 0o600) == 0)

        #expect(try asNobody("echo nobody appended >> shared", in: volume.mountPoint) == 0)
        #expect(try String(contentsOfFile: shared, encoding: .utf8) == "root wrote this\nnobody appended\n")
        #expect(try mode(shared) == 0o777)

        #expect(try asNobody("cat secret", in: volume.mountPoint) != 0)
        #expect(try asNobody("echo x > secret", in: volume.mountPoint) != 0)
        #expect(try String(contentsOfFile: secret, encoding: .utf8) == "root only\n")

        // Truncating drops them too; root's own writes keep them.
        try #require(chmod(shared, 0o6777) == 0)
        #expect(try asNobody(": > shared", in: volume.mountPoint) == 0)
        #expect(try mode(shared) == 0o777)
        try #require(chmod(shared, 0o4777) == 0)
        try Data("root again\n".utf8).write(to: URL(fileURLWithPath: shared))
        #expect(try mode(shared) == 0o4777)

        // New files belong to their creator.
        try #require(mkdir(volume.path("drop"), 0o777) == 0 && chmod(volume.path("drop"), 0o1777) == 0)
        #expect(try asNobody("echo mine > drop/made-by-nobody", in: volume.mountPoint) == 0)
        var st = stat()
        #expect(stat(volume.path("drop/made-by-nobody"), &st) == 0 && st.st_uid == 65534 && st.st_gid == 65534)
    }

    /// A root daemon creates with the caller's credentials: a setgid
    /// directory gives its group, and its set-group-ID bit to new
    /// subdirectories; a requested set-user-ID bit stays; a supplementary
    /// group opens a directory; the metadata files belong to the owner of
    /// the directory holding them, chown included.
    @Test func newEntriesHaveTheCallersCredentialsAndHonourSetgidDirectories() throws {
        let volume = try VolumeFixture()
        defer { volume.unmount() }
        try #require(chmod(volume.directory.path, 0o755) == 0)
        try volume.requireMount(["-o", "allow_other"])
        let team: gid_t = 4242
        for (name, mode) in [("setgid", mode_t(0o2777)), ("team", 0o770), ("drop", 0o1777)] {
            try #require(mkdir(volume.path(name), 0o700) == 0 && chown(volume.path(name), 0, team) == 0
                         && chmod(volume.path(name), mode) == 0)
        }
        let long = String(repeating: "n", count: 200)
        let script = """
            set -e
            echo x > setgid/file
            mkdir setgid/sub
            perl -MFcntl -e 'sysopen(my $f, "drop/setuid", O_CREAT | O_WRONLY, 04755) or exit 1'
            mkdir drop/own
            echo y > drop/own/\(long)
            """
        #expect(try asNobody(script, in: volume.mountPoint) == 0)
        #expect(try asNobody("echo z > team/file", in: volume.mountPoint) != 0)
        #expect(try asNobody("echo z > team/file", in: volume.mountPoint, groups: [team]) == 0)

        let file = try attributes(volume.path("setgid/file")), sub = try attributes(volume.path("setgid/sub"))
        #expect(file.st_uid == 65534 && file.st_gid == team)
        #expect(sub.st_uid == 65534 && sub.st_gid == team && sub.st_mode & S_ISGID != 0)
        #expect(try mode(volume.path("drop/setuid")) == 0o4755)
        #expect(try attributes(volume.path("team/file")).st_gid == 65534)
        let rootFile = volume.path("root-setuid")
        let fd = open(rootFile, O_CREAT | O_WRONLY, 0o4755)
        #expect(fd >= 0)
        close(fd)
        #expect(try mode(rootFile) == 0o4755)

        let ownBacking = try volume.backingPath(ofMounted: "drop/own")
        for name in try FileManager.default.contentsOfDirectory(atPath: ownBacking)
        where name == DirectoryIV.fileName || LongName.isSidecar(name) {
            let metadata = try attributes(ownBacking + "/" + name)
            #expect(metadata.st_uid == 65534 && metadata.st_gid == 65534, "\(name)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: ownBacking).filter(LongName.isSidecar).count == 1)

        // Root makes a directory and gives it away, as `tar -x` does.
        try #require(mkdir(volume.path("given"), 0o755) == 0)
        try Data().write(to: URL(fileURLWithPath: volume.path("given/" + long)))
        try #require(chown(volume.path("given"), 65534, team) == 0)
        let givenBacking = try volume.backingPath(ofMounted: "given")
        for name in try FileManager.default.contentsOfDirectory(atPath: givenBacking)
        where name == DirectoryIV.fileName || LongName.isSidecar(name) {
            let metadata = try attributes(givenBacking + "/" + name)
            #expect(metadata.st_uid == 65534 && metadata.st_gid == team, "\(name)")
        }
    }
}
