import CFuse
import Glibc

/// setxattr, getxattr, listxattr, removexattr: with `-o xattr`, on the
/// backing file through ``ExtendedAttributeTranslation`` (encrypted on a
/// version 2 volume, as they are on version 1); otherwise ENOSYS, after
/// which the kernel answers EOPNOTSUPP itself without asking again.
extension Filesystem {
    func setxattr(_ req: fuse_req_t, _ node: fuse_ino_t, _ name: UnsafePointer<CChar>,
                  _ value: UnsafePointer<CChar>?, _ size: Int, _ flags: Int32) throws(SystemError) {
        try requireExtendedAttributes()
        let path = procPath(try inodes.inode(node).fd)
        let backingName = try xattrs.backingName(name, otherNamespace: EOPNOTSUPP)
        let backingValue = try xattrs.backingValue(value, size: size)
        // The backing name is fixed per plaintext name, so XATTR_CREATE and
        // XATTR_REPLACE mean on the backing file what they were asked to.
        try checked(CFuse.setxattr(path, backingName, backingValue, backingValue.count, flags))
        fuse_reply_err(req, 0)
    }

    /// With `size` 0 the kernel asks only how big the value is.
    func getxattr(_ req: fuse_req_t, _ node: fuse_ino_t, _ name: UnsafePointer<CChar>, _ size: Int) throws(SystemError) {
        try requireExtendedAttributes()
        let inode = try inodes.inode(node)
        let path = procPath(try inode.fd)
        let backingName = try xattrs.backingName(name, otherNamespace: ENODATA)
        let stored = try wholeBackingXattr { buffer, capacity in CFuse.getxattr(path, backingName, buffer, capacity) }
        try replyXattr(req, size, try xattrs.value(of: stored, named: backingName, of: inode))
    }

    func listxattr(_ req: fuse_req_t, _ node: fuse_ino_t, _ size: Int) throws(SystemError) {
        try requireExtendedAttributes()
        let inode = try inodes.inode(node)
        let path = procPath(try inode.fd)
        let stored = try wholeBackingXattr { buffer, capacity in
            CFuse.listxattr(path, buffer?.assumingMemoryBound(to: CChar.self), capacity)
        }
        try replyXattr(req, size, try xattrs.list(of: stored, of: inode))
    }

    func removexattr(_ req: fuse_req_t, _ node: fuse_ino_t, _ name: UnsafePointer<CChar>) throws(SystemError) {
        try requireExtendedAttributes()
        let path = procPath(try inodes.inode(node).fd)
        try checked(CFuse.removexattr(path, try xattrs.backingName(name, otherNamespace: ENODATA)))
        fuse_reply_err(req, 0)
    }

    private func requireExtendedAttributes() throws(SystemError) {
        guard options.extendedAttributes else { throw SystemError(ENOSYS) }
    }

    /// A backing value or name list, whole: the kernel caps both at 64 KiB
    /// (XATTR_SIZE_MAX, XATTR_LIST_MAX), so one call of that size gets it.
    private func wholeBackingXattr(_ call: (UnsafeMutableRawPointer?, Int) -> Int) throws(SystemError) -> [UInt8] {
        try withReplyBuffer(Int(XATTR_SIZE_MAX)) { buffer throws(SystemError) in
            let length = try checked(call(buffer.baseAddress, buffer.count))
            return Array(UnsafeRawBufferPointer(rebasing: buffer[..<length]))
        }
    }

    /// The size the kernel asked about (`size` 0), or the bytes when they
    /// fit in `size`, else ERANGE.
    private func replyXattr(_ req: fuse_req_t, _ size: Int, _ bytes: [UInt8]) throws(SystemError) {
        if size == 0 {
            fuse_reply_xattr(req, bytes.count)
            return
        }
        guard bytes.count <= size else { throw SystemError(ERANGE) }
        _ = bytes.withUnsafeBytes { fuse_reply_buf(req, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
    }
}
