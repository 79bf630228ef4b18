import CFuse
import Glibc

/// setxattr, getxattr, listxattr, removexattr: with `-o xattr`, passed
/// through to the backing file as they are (names and values are not
/// encrypted); otherwise ENOSYS, after which the kernel answers EOPNOTSUPP
/// itself without asking again.
extension Filesystem {
    func setxattr(_ req: fuse_req_t, _ node: fuse_ino_t, _ name: UnsafePointer<CChar>,
                  _ value: UnsafePointer<CChar>?, _ size: Int, _ flags: Int32) throws(SystemError) {
        try requireExtendedAttributes()
        let inode = try inodes.inode(node)
        try checked(CFuse.setxattr(procPath(inode.fd), name, value, size, flags))
        fuse_reply_err(req, 0)
    }

    /// With `size` 0 the kernel asks only how big the value is.
    func getxattr(_ req: fuse_req_t, _ node: fuse_ino_t, _ name: UnsafePointer<CChar>, _ size: Int) throws(SystemError) {
        try requireExtendedAttributes()
        let path = procPath(try inodes.inode(node).fd)
        try replyWithXattrBytes(req, size) { buffer, capacity in CFuse.getxattr(path, name, buffer, capacity) }
    }

    func listxattr(_ req: fuse_req_t, _ node: fuse_ino_t, _ size: Int) throws(SystemError) {
        try requireExtendedAttributes()
        let path = procPath(try inodes.inode(node).fd)
        try replyWithXattrBytes(req, size) { buffer, capacity in
            CFuse.listxattr(path, buffer?.assumingMemoryBound(to: CChar.self), capacity)
        }
    }

    func removexattr(_ req: fuse_req_t, _ node: fuse_ino_t, _ name: UnsafePointer<CChar>) throws(SystemError) {
        try requireExtendedAttributes()
        try checked(CFuse.removexattr(procPath(try inodes.inode(node).fd), name))
        fuse_reply_err(req, 0)
    }

    private func requireExtendedAttributes() throws(SystemError) {
        guard options.extendedAttributes else { throw SystemError(ENOSYS) }
    }

    /// The size-query and the fetch halves every xattr read has.
    private func replyWithXattrBytes(_ req: fuse_req_t, _ size: Int,
                                     _ call: (UnsafeMutableRawPointer?, Int) -> Int) throws(SystemError) {
        if size == 0 {
            fuse_reply_xattr(req, try checked(call(nil, 0)))
            return
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 1)
        defer { buffer.deallocate() }
        let length = try checked(call(buffer, size))
        fuse_reply_buf(req, buffer.assumingMemoryBound(to: CChar.self), length)
    }
}
