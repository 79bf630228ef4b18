import Foundation
import Glibc

/// Where the control socket of the mount on a mount point lives: in the
/// mounting user's runtime directory, /run/klfs for root and
/// $XDG_RUNTIME_DIR/klfs otherwise (``runtimeDirectory(for:)``), named by a hash of the mount point's
/// absolute path so that any client can find it from the mount point
/// (a path can be longer than a socket address allows).
enum ControlSocketPath {
    /// The socket of `mountPoint` served by a daemon of user `uid`.
    static func socket(for mountPoint: String, daemonUID uid: uid_t) -> String {
        runtimeDirectory(for: uid) + "/" + name(for: mountPoint)
    }

    /// The runtime directory of `uid`: the caller's own $XDG_RUNTIME_DIR
    /// when it is that user's, else /run/user/UID when there is one (what
    /// XDG_RUNTIME_DIR usually is), else /tmp/klfs-UID. A daemon started
    /// with another user's environment (setpriv keeps it) still finds a
    /// directory of its own.
    static func runtimeDirectory(for uid: uid_t) -> String {
        if uid == 0 { return "/run/klfs" }
        if uid == getuid(), let runtime = ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"],
           !runtime.isEmpty, isDirectory(runtime, ownedBy: uid) {
            return runtime + "/klfs"
        }
        if isDirectory("/run/user/\(uid)", ownedBy: uid) { return "/run/user/\(uid)/klfs" }
        return "/tmp/klfs-\(uid)"
    }

    private static func isDirectory(_ path: String, ownedBy uid: uid_t) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR && st.st_uid == uid
    }

    /// "mount-" and 16 hex digits of FNV-1a-64 over the path.
    static func name(for mountPoint: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in mountPoint.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return "mount-" + String(hash, radix: 16).leftPadded(to: 16) + ".sock"
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
