import CFuse
import Foundation
import Glibc

/// Node IDs handed to the kernel, keyed both ways. Node IDs are never
/// reused within a mount, so the generation number can stay 0; a backing
/// (st_dev, st_ino) cannot be reused while its O_PATH descriptor is open,
/// so one backing file has one inode here and hard links share it.
final class InodeTable: @unchecked Sendable {
    private let lock = NSLock()
    private var byNode: [fuse_ino_t: Inode] = [:]
    private var byBacking: [BackingID: Inode] = [:]
    private var nextNode = fuse_ino_t(FUSE_ROOT_ID) + 1
    let root: Inode
    /// Sizes of regular files outlive their inodes here.
    let forgottenSizes = ForgottenSizes()

    /// `rootFD` is an O_PATH descriptor on the cipher dir.
    init(rootFD: Int32) throws(SystemError) {
        let st = try backingAttributes(rootFD)
        root = Inode(nodeID: fuse_ino_t(FUSE_ROOT_ID), fd: rootFD, attributes: st)
        byNode[root.nodeID] = root
        byBacking[root.backing] = root
    }

    /// The inode behind a node ID the kernel sent.
    func inode(_ node: fuse_ino_t) throws(SystemError) -> Inode {
        let inode = lock.withLock { byNode[node] }
        guard let inode else { throw SystemError(ESTALE) }
        return inode
    }

    /// The inode the kernel knows for a backing file, if any.
    func known(_ backing: BackingID) -> Inode? {
        lock.withLock { byBacking[backing] }
    }

    /// Counts one kernel lookup of the file `fd` (an O_PATH descriptor
    /// whose attributes are `st`) and returns its inode. Takes ownership of
    /// `fd`: it is closed when the file already had an inode.
    func remember(fd: Int32, attributes st: stat) -> Inode {
        let key = BackingID(st)
        let (inode, duplicate) = lock.withLock { () -> (Inode, Bool) in
            if let known = byBacking[key] {
                known.lookups += 1
                return (known, true)
            }
            let inode = Inode(nodeID: nextNode, fd: fd, attributes: st)
            nextNode += 1
            inode.lookups = 1
            byNode[inode.nodeID] = inode
            byBacking[key] = inode
            return (inode, false)
        }
        if duplicate {
            close(fd)
        } else if inode.isRegularFile, let size = forgottenSizes.take(for: st) {
            inode.contents.assume(size)
        }
        return inode
    }

    /// The kernel dropped `count` lookups of `node`; at zero the node ID
    /// is retired. The root is never retired.
    func forget(_ node: fuse_ino_t, count: UInt64) {
        let retired = lock.withLock { () -> Inode? in
            guard node != root.nodeID, let inode = byNode[node] else { return nil }
            inode.lookups -= min(count, inode.lookups)
            guard inode.lookups == 0 else { return nil }
            byNode[node] = nil
            byBacking[inode.backing] = nil
            return inode
        }
        guard let retired else { return }
        keepSize(of: retired)
        // The table's reference dies here, outside the lock: closing the
        // descriptor of a file that lost its last name frees its backing
        // pages, which must not hold up lookups on other workers.
    }

    private func keepSize(of inode: Inode) {
        guard inode.isRegularFile, let size = inode.contents.knownSize,
              let st = try? backingAttributes(inode.fd), st.st_nlink > 0 else { return }
        forgottenSizes.keep(size, of: st)
    }
}
