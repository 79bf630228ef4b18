import Foundation
import Glibc
import Testing

/// A second, unprivileged user on an `allow_other` mount served by a root
/// daemon: the kernel judges their rights by the mode bits, and their
/// writes drop set-user-ID and set-group-ID bits as on a local filesystem.
@Suite struct MountOtherUserTests {
    /// Runs `script` with sh as nobody (uid and gid 65534, no groups);
    /// returns its exit status.
    private func asNobody(_ script: String, in directory: String) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", "/bin/sh", "-c", script]
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
}
