import CFuse
import Foundation
import Glibc

/// A backing file's identity: what makes two names hard links of one file.
struct BackingID: Hashable {
    let device: UInt64
    let inode: UInt64

    init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }
}

/// One file the kernel knows by node ID: an O_PATH descriptor on the
/// backing file (so renames in the backing dir never lose it) and, while
/// the file is open, its contents.
///
/// The descriptor closes when the last reference goes: the table drops its
/// reference on the final forget, and a request still running keeps the
/// inode alive until it ends.
final class Inode: @unchecked Sendable {
    let nodeID: fuse_ino_t
    let backing: BackingID
    /// O_PATH | O_NOFOLLOW on the backing file.
    let fd: Int32
    /// S_IFREG, S_IFDIR, S_IFLNK, ...: fixed for a file's life.
    let type: mode_t
    /// Kernel lookups not yet forgotten; guarded by the ``InodeTable``.
    var lookups: UInt64 = 0
    /// The decrypted view shared by every open handle of a regular file.
    let contents = SharedContents()

    init(nodeID: fuse_ino_t, fd: Int32, attributes st: stat) {
        self.nodeID = nodeID
        self.fd = fd
        self.backing = BackingID(st)
        self.type = fileType(st.st_mode)
    }

    var isRegularFile: Bool { type == S_IFREG }
    var isDirectory: Bool { type == S_IFDIR }

    deinit { close(fd) }
}
