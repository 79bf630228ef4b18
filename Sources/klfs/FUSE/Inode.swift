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

/// One file the kernel knows by node ID: where its backing file is, a
/// descriptor on it while the ``DescriptorCache`` keeps one, and, while
/// the file is open, its contents.
final class Inode: @unchecked Sendable {
    let nodeID: fuse_ino_t
    let backing: BackingID
    /// S_IFREG, S_IFDIR, S_IFLNK, ...: fixed for a file's life.
    let type: mode_t
    /// Kernel lookups not yet forgotten; guarded by the ``InodeTable``.
    var lookups: UInt64 = 0
    /// The decrypted view shared by every open handle of a regular file.
    let contents = SharedContents()
    private unowned let descriptors: DescriptorCache

    // Guarded by the DescriptorCache's lock:
    /// The name it was last found by; nil for an orphan (DescriptorCache.orphan).
    var location: BackingLocation?
    var cachedDescriptor: PathDescriptor?
    /// Its slot in the cache's ring, or one of the two below.
    var cacheSlot = Inode.outsideTheRing
    /// No descriptor, or an orphan's (DescriptorCache.orphan).
    static let outsideTheRing = -1
    /// The root's descriptor, open for the mount's life.
    static let neverEvicted = -2
    var recentlyUsed = false
    /// Whether a user has ``contents`` open (DescriptorCache.orphan).
    var contentsOpen = false

    init(nodeID: fuse_ino_t, attributes st: stat, descriptors: DescriptorCache) {
        self.nodeID = nodeID
        self.backing = BackingID(st)
        self.type = fileType(st.st_mode)
        self.descriptors = descriptors
    }

    /// An O_PATH | O_NOFOLLOW descriptor on the backing file, open until
    /// the calling request ends.
    var fd: Int32 {
        get throws(SystemError) { try descriptors.descriptor(of: self) }
    }

    /// Hands back one use of ``contents``; the last closes them.
    func releaseContents() {
        contents.release { descriptors.contentsClosed(self) }
    }

    var isRegularFile: Bool { type == S_IFREG }
    var isDirectory: Bool { type == S_IFDIR }
}
