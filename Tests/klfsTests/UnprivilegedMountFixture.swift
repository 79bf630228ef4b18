import Foundation
import Glibc
import Testing

/// The ordinary user tests mount as and act as: nobody (uid and gid 65534),
/// with no supplementary groups.
enum OrdinaryUser {
    static let uid: uid_t = 65534
    static let gid: gid_t = 65534

    /// Runs `executable` with `arguments` as this user (setpriv).
    static func run(_ executable: URL, _ arguments: [String]) throws -> CommandResult {
        try requireReachable(executable.path)
        return try runCommand(URL(fileURLWithPath: "/usr/bin/setpriv"),
                              ["--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", executable.path] + arguments)
    }

    /// The user must be able to reach `path`: every directory above it
    /// searchable by others (a build tree under a 0700 home is not).
    static func requireReachable(_ path: String) throws {
        var directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        while directory.path != "/" {
            var st = stat()
            try #require(stat(directory.path, &st) == 0)
            try #require(st.st_mode & 0o001 != 0, "\(directory.path) is not searchable by uid \(uid)")
            directory.deleteLastPathComponent()
        }
    }

    /// Gives `path` and everything below it to this user.
    static func take(_ path: String) throws {
        try #require(lchown(path, uid, gid) == 0, "chown \(path): \(String(cString: strerror(errno)))")
        let walker = FileManager.default.enumerator(atPath: path)
        while let relative = walker?.nextObject() as? String {
            try #require(lchown(path + "/" + relative, uid, gid) == 0, "chown \(relative)")
        }
    }
}

/// /dev/fuse opened to everyone (0666) while any test needs it, then given
/// its mode back: libfuse opens the device as the mounting user before it
/// hands the mount over to fusermount3, and some machines ship it 0600.
/// Tests may overlap: the first to come opens it up, the last to go
/// restores it.
enum FuseDeviceAccess {
    static let path = "/dev/fuse"
    private static let lock = NSLock()
    nonisolated(unsafe) private static var holders = 0
    nonisolated(unsafe) private static var savedMode: mode_t?

    static func forEveryone<T>(_ body: () throws -> T) throws -> T {
        try acquire()
        defer { release() }
        return try body()
    }

    private static func acquire() throws {
        lock.lock()
        defer { lock.unlock() }
        if holders == 0 {
            var st = stat()
            try #require(stat(path, &st) == 0, "no \(path)")
            let mode = st.st_mode & 0o7777
            if mode & 0o666 != 0o666 {
                try #require(chmod(path, mode | 0o666) == 0, "chmod \(path)")
                savedMode = mode
            }
        }
        holders += 1
    }

    private static func release() {
        lock.lock()
        defer { lock.unlock() }
        holders -= 1
        if holders == 0, let mode = savedMode {
            chmod(path, mode)
            savedMode = nil
        }
    }
}

extension VolumeFixture {
    /// Mounts with a daemon running as the ordinary user, through
    /// fusermount3 as a user without root would: the volume's directory
    /// (cipher dir, mount point, passfile) is handed to that user first.
    /// Call inside `FuseDeviceAccess.forEveryone`. Only that user can use
    /// the mount (allow_other would need user_allow_other in
    /// /etc/fuse.conf); `unmount()` works as usual (root unmounts it).
    func requireMountAsOrdinaryUser(_ extra: [String] = [], engine: String = "keylocker-soft") throws {
        try OrdinaryUser.take(directory.path)
        let result = try OrdinaryUser.run(klfsBinary, ["mount", cipherDir, mountPoint, "--passfile", passfile,
                                                       "--engine", engine] + extra)
        try #require(result.status == 0, "mount as uid \(OrdinaryUser.uid) failed: \(result.standardError)")
    }
}
