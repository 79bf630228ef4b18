import CFuse
import Foundation
import Glibc

/// Node IDs handed to the kernel, keyed both ways. Node IDs are never
/// reused within a mount, so the generation number can stay 0; one
/// backing file has one inode here, so hard links share it. The inodes'
/// descriptors are the ``DescriptorCache``'s.
///
/// A forgotten inode of a deleted file is retired, not dropped: closing its
/// descriptor frees the file's pages, and an `rmdir` of its backing
/// directory meanwhile spins in the kernel until that is done (the dying
/// entry is still the directory's child). `rm -rf` sends each directory's
/// RMDIR right after its files' FORGETs, so closing them one by one as
/// they came made nearly every RMDIR wait. Retired descriptors are closed
/// together, ``retirement`` after the first of them came (on a dispatch
/// thread), or at once when ``retiredBatch`` are waiting. Only small files
/// are retired, so what they hold is bounded.
final class InodeTable: @unchecked Sendable {
    private let lock = NSLock()
    private var byNode: [fuse_ino_t: Inode] = [:]
    private var byBacking: [BackingID: Inode] = [:]
    private var retired: [PathDescriptor] = []
    private let retiredBatch: Int
    private static let retirement = DispatchTimeInterval.milliseconds(10)
    private var nextNode = fuse_ino_t(FUSE_ROOT_ID) + 1
    let root: Inode
    let descriptors: DescriptorCache
    /// Sizes of regular files outlive their inodes here.
    let forgottenSizes = ForgottenSizes()

    /// `rootFD` is an O_PATH descriptor on the cipher dir, which the table
    /// owns from here on; at most `descriptorCapacity` others stay open.
    init(rootFD: Int32, descriptorCapacity: Int) throws(SystemError) {
        let rootDescriptor = PathDescriptor(rootFD)
        let st = try backingAttributes(rootFD)
        descriptors = DescriptorCache(capacity: descriptorCapacity)
        retiredBatch = min(256, descriptorCapacity / 4)
        root = Inode(nodeID: fuse_ino_t(FUSE_ROOT_ID), attributes: st, descriptors: descriptors)
        descriptors.keepForever(rootDescriptor, for: root)
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

    /// Counts one kernel lookup of the backing file whose attributes are
    /// `st`, found at `location`, and returns its inode. Its descriptor is
    /// opened when a request first needs one: `ls -l`, `du` and `rm` of a
    /// file never do.
    func remember(attributes st: stat, at location: BackingLocation) -> Inode {
        let key = BackingID(st)
        let (inode, isNew) = lock.withLock { () -> (Inode, Bool) in
            if let known = byBacking[key] {
                known.lookups += 1
                return (known, false)
            }
            let inode = Inode(nodeID: nextNode, attributes: st, descriptors: descriptors)
            nextNode += 1
            inode.lookups = 1
            byNode[inode.nodeID] = inode
            byBacking[key] = inode
            return (inode, true)
        }
        descriptors.found(inode, at: location)
        if isNew, inode.isRegularFile, let known = forgottenSizes.take(for: st) {
            inode.contents.assume(known)
        }
        return inode
    }

    /// The kernel dropped `count` lookups of `node`; at zero the node ID
    /// is given up (the root's never is).
    func forget(_ node: fuse_ino_t, count: UInt64) {
        if let forgotten = detach(node, count: count) { settle(forgotten) }
    }

    /// Takes `count` lookups off `node`; returns the inode if that was the
    /// last, after taking it out of the table.
    func detach(_ node: fuse_ino_t, count: UInt64) -> Inode? {
        lock.withLock { () -> Inode? in
            guard node != root.nodeID, let inode = byNode[node] else { return nil }
            inode.lookups -= min(count, inode.lookups)
            guard inode.lookups == 0 else { return nil }
            byNode[node] = nil
            byBacking[inode.backing] = nil
            return inode
        }
    }

    /// What a detached inode leaves: a regular file's size for the next
    /// lookup, and its descriptor closed (or retired). By now a lookup may
    /// have made a new inode for the same file and changed the file through
    /// it, so the size kept is the one paired with the file's state when it
    /// was known (``KnownSize``), never with an fstat taken here.
    func settle(_ forgotten: Inode) {
        let descriptor = descriptors.release(forgotten)
        let st = descriptor.flatMap { try? backingAttributes($0.fd) }
        if let descriptor, let st, st.st_nlink == 0 {
            if Int(st.st_blocks) * 512 < Filesystem.spaceReleasedAtUnlink { retire(descriptor) }
        } else if forgotten.isRegularFile, let known = forgotten.contents.sizeWhileClosed {
            forgottenSizes.keep(known, of: forgotten.backing)
        }
        // A descriptor not retired closes here, outside the lock: freeing a
        // large deleted file's pages must not hold up lookups.
    }

    private func retire(_ descriptor: PathDescriptor) {
        let (first, full) = lock.withLock { () -> (Bool, Bool) in
            retired.append(descriptor)
            return (retired.count == 1, retired.count >= retiredBatch)
        }
        if full {
            releaseRetired()
        } else if first {
            DispatchQueue.global().asyncAfter(deadline: .now() + Self.retirement) { self.releaseRetired() }
        }
    }

    /// Closes every retired descriptor (unless a request still holds one)
    /// outside the lock.
    private func releaseRetired() {
        let batch = lock.withLock { () -> [PathDescriptor] in
            defer { retired = [] }
            return retired
        }
        withExtendedLifetime(batch) {}
    }
}
