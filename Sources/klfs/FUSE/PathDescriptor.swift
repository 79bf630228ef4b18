import CFuse
import Glibc

/// An `O_PATH | O_NOFOLLOW` descriptor on a backing file, closed when the
/// last holder lets go: the ``DescriptorCache``, an orphaned ``Inode``, a
/// request that pinned it (``RequestScope``), or a retired batch
/// (``InodeTable``).
final class PathDescriptor: @unchecked Sendable {
    let fd: Int32

    init(_ fd: Int32) { self.fd = fd }

    deinit { close(fd) }
}

/// Where an inode's backing file was last seen by name: the backing name
/// (hashed, for a long name) in its parent's backing directory. Renames,
/// unlinks and rmdirs in the mount keep it current.
struct BackingLocation {
    let parent: Inode
    let name: [CChar]

    func isNamed(_ other: [CChar], in directory: Inode) -> Bool {
        parent === directory && name == other
    }

    /// `openat` of the name through the parent's descriptor with `flags`,
    /// never following a symlink, kept only if it is `backing`'s file
    /// (ESTALE otherwise: the name leads elsewhere by now). One path step,
    /// where an O_PATH open and a reopen through /proc/self/fd walk procfs
    /// too.
    func open(_ flags: Int32, expecting backing: BackingID) throws(SystemError) -> Int32 {
        let fd = try checked(openat(try parent.fd, name, flags | O_NOFOLLOW | O_CLOEXEC))
        var st = stat()
        guard fstat(fd, &st) == 0, BackingID(st) == backing else {
            close(fd)
            throw SystemError(ESTALE)
        }
        return fd
    }
}
