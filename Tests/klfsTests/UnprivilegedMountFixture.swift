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
        try runCommand(URL(fileURLWithPath: "/usr/bin/setpriv"),
                       ["--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", try reachable(executable).path] + arguments)
    }

    private static let copiesLock = NSLock()
    nonisolated(unsafe) private static var copies: [URL: URL] = [:]

    /// `executable` itself when this user can reach it, else a copy in a
    /// directory of /tmp that it can reach (a clone under /root, say, is
    /// 0700). The copy keeps the name, so a daemon is still found by it.
    static func reachable(_ executable: URL) throws -> URL {
        if isReachable(executable.path) { return executable }
        copiesLock.lock()
        defer { copiesLock.unlock() }
        if let copy = copies[executable] { return copy }
        let directory = URL(fileURLWithPath: "/tmp/klfs-ordinary-user-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        let copy = directory.appendingPathComponent(executable.lastPathComponent)
        try? FileManager.default.removeItem(at: copy)
        try FileManager.default.copyItem(at: executable, to: copy)
        try #require(chmod(copy.path, 0o755) == 0)
        copies[executable] = copy
        return copy
    }

    /// Whether every directory above `path` is searchable by others and
    /// the file itself executable by them.
    static func isReachable(_ path: String) -> Bool {
        var url = URL(fileURLWithPath: path)
        var st = stat()
        guard stat(url.path, &st) == 0, st.st_mode & 0o001 != 0 else { return false }
        while url.path != "/" {
            url.deleteLastPathComponent()
            guard stat(url.path, &st) == 0, st.st_mode & 0o001 != 0 else { return false }
        }
        return true
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

extension VolumeFixture {
    /// Runs `script` with sh as the ordinary user in the mount; its exit
    /// status. (The shell changes directory itself: without allow_other,
    /// only the daemon's user can enter the mount, root included.)
    func runInMountAsOrdinaryUser(_ script: String) throws -> Int32 {
        try OrdinaryUser.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "cd \"$0\" || exit 1\n" + script, mountPoint]).status
    }
}
