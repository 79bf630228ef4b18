import Foundation
import Glibc
import Testing

/// Running a volume's daemon, and commands in its mount, as the ordinary
/// user nobody (uid and gid 65534, no groups), through setpriv. Without
/// allow_other only nobody can reach such a mount: root cannot either.
extension VolumeFixture {
    static let nobody: uid_t = 65534

    /// Gives the volume's directories and files to nobody, then runs
    /// `klfs mount` as nobody (fusermount3 mounts for it). /dev/fuse is
    /// opened to everyone just for the mount, since some machines ship it
    /// 0600; the daemon holds its descriptor by then.
    func requireMountAsNobody(_ extra: [String] = []) throws {
        try #require(chmod(directory.path, 0o755) == 0)
        for path in try [directory.path] + FileManager.default.subpathsOfDirectory(atPath: directory.path)
            .map({ directory.path + "/" + $0 }) {
            try #require(lchown(path, Self.nobody, Self.nobody) == 0, "chown \(path)")
        }
        let device = try attributes("/dev/fuse")
        try #require(chmod("/dev/fuse", 0o666) == 0)
        defer { chmod("/dev/fuse", device.st_mode & 0o7777) }
        let status = try Self.runAsNobody(klfsBinary.path, ["mount", cipherDir, mountPoint, "--passfile", passfile,
                                                            "--engine", "keylocker-soft"] + extra)
        try #require(status == 0 && isMounted, "mount as nobody exited \(status)")
    }

    /// Runs `script` with sh as nobody in the mount; its exit status.
    /// (The shell changes directory itself: root cannot enter the mount.)
    func runInMountAsNobody(_ script: String) throws -> Int32 {
        try Self.runAsNobody("/bin/sh", ["-c", "cd \"$0\" || exit 1\n" + script, mountPoint])
    }

    private static func runAsNobody(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=\(nobody)", "--regid=\(nobody)", "--clear-groups", executable] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: "/")
        process.environment = ["SWIFT_BACKTRACE": "enable=no", "PATH": "/usr/bin:/bin"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
