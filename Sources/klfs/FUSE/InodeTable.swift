import CFuse
import Foundation
import Glibc

/// Node IDs handed to the kernel, keyed both ways. Node IDs are never
/// reused within a mount, so the generation number can stay 0; a backing
/// (st_dev, st_ino) cannot be reused while its O_PATH descriptor is open,
/// so one backing file has one inode here and hard links share it.
///
/// A forgotten inode of a deleted file is retired, not dropped: closing its
/// descriptor frees the file's pages, and an `rmdir` of its backing
/// directory meanwhile spins in the kernel until that is done (the dying
/// entry is still the directory's child). `rm -rf` sends each directory's
/// RMDIR right after its files' FORGETs, so closing them one by one as
/// they came made nearly every RMDIR wait. Retired inodes are dropped
/// together, ``retirement`` after the first of them came (on a dispatch
/// thread), or at once when ``retiredBatch`` are waiting. Only small files
/// are retired, so what they hold is bounded.
final class InodeTable: @unchecked Sendable {
    private let lock = NSLock()
    private var byNode: [fuse_ino_t: Inode] = [:]
    private var byBacking: [BackingID: Inode] = [:]
    private var retired: [Inode] = []
    private static let retiredBatch = 256
    private static let retirement = DispatchTimeInterval.milliseconds(10)
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
    /// is given up (the root's never is) and a regular file's size kept.
    func forget(_ node: fuse_ino_t, count: UInt64) {
        let forgotten = lock.withLock { () -> Inode? in
            guard node != root.nodeID, let inode = byNode[node] else { return nil }
            inode.lookups -= min(count, inode.lookups)
            guard inode.lookups == 0 else { return nil }
            byNode[node] = nil
            byBacking[inode.backing] = nil
            return inode
        }
        guard let forgotten, let st = try? backingAttributes(forgotten.fd) else { return }
        if st.st_nlink > 0 {
            if forgotten.isRegularFile, let size = forgotten.contents.knownSize { forgottenSizes.keep(size, of: st) }
        } else if Int(st.st_blocks) * 512 < Filesystem.spaceReleasedAtUnlink {
            retire(forgotten)
        }
        // Anything not retired dies here, outside the lock: freeing a large
        // deleted file's pages must not hold up lookups.
    }

    private func retire(_ inode: Inode) {
        let (first, full) = lock.withLock { () -> (Bool, Bool) in
            retired.append(inode)
            return (retired.count == 1, retired.count >= Self.retiredBatch)
        }
        if full {
            releaseRetired()
        } else if first {
            DispatchQueue.global().asyncAfter(deadline: .now() + Self.retirement) { self.releaseRetired() }
        }
    }

    /// Drops every retired inode, closing their descriptors (unless a
    /// request still holds one) outside the lock.
    private func releaseRetired() {
        let batch = lock.withLock { () -> [Inode] in
            defer { retired = [] }
            return retired
        }
        withExtendedLifetime(batch) {}
    }
}
