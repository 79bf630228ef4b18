import Foundation
import Glibc

/// The checks `klfs mount` makes on MOUNTPOINT before unlocking anything.
enum MountPoint {
    /// The mount point as the kernel will record it (symlinks resolved),
    /// once it is an existing, empty directory that nothing is mounted on.
    static func validated(_ path: String) throws(CommandFailure) -> String {
        let lexical = absolutePath(path)
        var st = stat()
        if stat(path, &st) != 0 {
            switch errno {
            case ENOTCONN:
                throw CommandFailure(.alreadyMounted, "\(path) is already mounted (its filesystem daemon is gone; run 'klfs unmount \(path)')")
            case ENOENT:
                throw CommandFailure(.mountPointMissing, "mount point \(path) does not exist")
            default:
                throw CommandFailure(.mountPointMissing, "mount point \(path): \(String(cString: strerror(errno)))")
            }
        }
        guard fileType(st.st_mode) == S_IFDIR else {
            throw CommandFailure(.mountPointMissing, "mount point \(path) is not a directory")
        }
        let resolved = realpath(path, nil).map { pointer in
            defer { free(pointer) }
            return String(cString: pointer)
        } ?? lexical
        let table = MountTable()
        if table.mount(at: resolved) != nil || table.mount(at: lexical) != nil {
            throw CommandFailure(.alreadyMounted, "\(path) is already a mount point")
        }
        guard isEmptyDirectory(resolved) else {
            throw CommandFailure(.mountPointNotEmpty, "mount point \(path) is not empty")
        }
        return resolved
    }

    private static func isEmptyDirectory(_ path: String) -> Bool {
        let entries = try? FileManager.default.contentsOfDirectory(atPath: path)
        return entries?.isEmpty ?? false
    }
}
