import Foundation
import Glibc

/// The mounts this process sees, from /proc/self/mountinfo.
struct MountTable {
    struct Mount: Equatable {
        let mountPoint: String
        let type: String
        let source: String
        /// The filesystem's own options ("rw,user_id=0,group_id=0" for FUSE).
        let superOptions: String

        /// FUSE's user_id=: the user whose daemon serves the mount.
        var fuseUserID: uid_t? {
            superOptions.split(separator: ",").first { $0.hasPrefix("user_id=") }
                .flatMap { uid_t($0.dropFirst("user_id=".count)) }
        }
    }

    let mounts: [Mount]

    init() {
        // FileHandle reads to the end; String(contentsOfFile:) stops after
        // the first read, one page of a /proc file, which hides every mount
        // listed after the first 4 KiB.
        let data = (try? FileHandle(forReadingAtPath: "/proc/self/mountinfo")?.readToEnd()) ?? nil
        let text = String(decoding: data ?? Data(), as: UTF8.self)
        mounts = text.split(separator: "\n").compactMap(Self.parse)
    }

    func mount(at path: String) -> Mount? {
        mounts.last { $0.mountPoint == path }
    }

    /// The klfs mount on `mountPoint` (as given, or with symlinks resolved),
    /// or why there is none.
    func klfsMount(at mountPoint: String) throws(CommandFailure) -> Mount {
        let path = absolutePath(mountPoint)
        let resolved = realpath(path, nil).map { pointer in
            defer { free(pointer) }
            return String(cString: pointer)
        } ?? path
        guard let mount = mount(at: resolved) ?? mount(at: path) else {
            throw CommandFailure(.notMounted, "nothing is mounted on \(mountPoint)")
        }
        guard mount.type == Self.klfsType else {
            throw CommandFailure(.notMounted, "\(mountPoint) is a \(mount.type) mount, not klfs")
        }
        return mount
    }

    /// Every klfs mount.
    var klfsMounts: [Mount] { mounts.filter { $0.type == Self.klfsType } }

    /// How a klfs mount shows in mountinfo (libfuse's subtype=klfs).
    static let klfsType = "fuse.klfs"

    /// "36 35 98:0 /root /mnt rw,noatime master:1 - ext3 /dev/root rw":
    /// the mount point is field 5; type and source follow the "-".
    private static func parse(_ line: Substring) -> Mount? {
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count >= 10, let dash = fields.firstIndex(of: "-"), dash + 3 < fields.count else { return nil }
        return Mount(mountPoint: unescape(fields[4]), type: String(fields[dash + 1]),
                     source: unescape(fields[dash + 2]), superOptions: String(fields[dash + 3]))
    }

    /// The kernel writes space, tab, newline and backslash as \ooo.
    private static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
               let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// An absolute path without "." and ".." components or repeated "/",
/// made without touching the filesystem (a dead FUSE mount cannot even be
/// stat'ed).
func absolutePath(_ path: String) -> String {
    let full = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    var components: [Substring] = []
    for component in full.split(separator: "/") {
        switch component {
        case ".": continue
        case "..": _ = components.popLast()
        default: components.append(component)
        }
    }
    return "/" + components.joined(separator: "/")
}
