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
}
