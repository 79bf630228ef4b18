import KLBlock

/// One open(2) of a regular file: the inode's shared ``CipherFile`` and
/// whether this handle appends.
final class OpenFile: AttachedHandle, @unchecked Sendable {
    let inode: Inode
    let file: CipherFile
    /// O_APPEND: every write lands at the size current at that moment,
    /// whatever offset the kernel sent.
    let appends: Bool

    init(inode: Inode, file: CipherFile, appends: Bool) {
        self.inode = inode
        self.file = file
        self.appends = appends
    }

    /// Hands the shared contents back (the last handle closes them).
    func close() {
        inode.releaseContents()
    }
}
