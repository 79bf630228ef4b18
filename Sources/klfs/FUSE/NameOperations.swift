import CFuse
import Glibc

/// unlink, rename, link, symlink, readlink, mknod, and the rules every
/// operation that makes a name follows.
extension Filesystem {
    /// Nothing may create, or rename onto, the hidden config name.
    func refuseHidden(_ name: UnsafePointer<CChar>, in parent: Inode) throws(SystemError) {
        if isHidden(name, in: parent) { throw SystemError(EPERM) }
    }

    /// A daemon running as root creates files as root; hand them to the
    /// user who asked, as a local filesystem would.
    func giveToCaller(_ req: fuse_req_t, _ name: UnsafePointer<CChar>, in parent: Inode) throws(SystemError) {
        let caller = fuse_req_ctx(req)!.pointee
        guard geteuid() == 0, caller.uid != 0 || caller.gid != 0 else { return }
        try checked(fchownat(parent.fd, name, caller.uid, caller.gid, AT_SYMLINK_NOFOLLOW))
    }

    func unlink(_ req: fuse_req_t, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>) throws(SystemError) {
        let directory = try inodes.inode(parent)
        if isHidden(name, in: directory) { throw SystemError(ENOENT) }
        try checked(unlinkat(directory.fd, name, 0))
        fuse_reply_err(req, 0)
    }

    /// RENAME_NOREPLACE and RENAME_EXCHANGE go to renameat2 as they are.
    func rename(_ req: fuse_req_t, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>,
                _ newParent: fuse_ino_t, _ newName: UnsafePointer<CChar>, _ flags: UInt32) throws(SystemError) {
        guard flags & ~(cfuse_rename_noreplace | cfuse_rename_exchange) == 0 else { throw SystemError(EINVAL) }
        let from = try inodes.inode(parent), to = try inodes.inode(newParent)
        if isHidden(name, in: from) { throw SystemError(ENOENT) }
        try refuseHidden(newName, in: to)
        try checked(cfuse_renameat2(from.fd, name, to.fd, newName, flags))
        fuse_reply_err(req, 0)
    }

    /// The new name is one more lookup of the same inode.
    func link(_ req: fuse_req_t, _ node: fuse_ino_t, _ newParent: fuse_ino_t,
              _ newName: UnsafePointer<CChar>) throws(SystemError) {
        let inode = try inodes.inode(node), directory = try inodes.inode(newParent)
        try refuseHidden(newName, in: directory)
        try checked(linkat(AT_FDCWD, procPath(inode.fd), directory.fd, newName, AT_SYMLINK_FOLLOW))
        var entry = try lookUp(newName, in: directory)
        fuse_reply_entry(req, &entry)
    }

    /// Link targets are stored as given: names are not encrypted yet.
    func symlink(_ req: fuse_req_t, _ target: UnsafePointer<CChar>, _ parent: fuse_ino_t,
                 _ name: UnsafePointer<CChar>) throws(SystemError) {
        let directory = try inodes.inode(parent)
        try refuseHidden(name, in: directory)
        try checked(symlinkat(target, directory.fd, name))
        try giveToCaller(req, name, in: directory)
        var entry = try lookUp(name, in: directory)
        fuse_reply_entry(req, &entry)
    }

    func readlink(_ req: fuse_req_t, _ node: fuse_ino_t) throws(SystemError) {
        let inode = try inodes.inode(node)
        var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = try checked(readlinkat(inode.fd, "", &target, target.count - 1))
        target[length] = 0
        fuse_reply_readlink(req, target)
    }

    /// FIFOs and sockets are made as they are; a regular file becomes an
    /// empty klfs file; device nodes are refused (an encrypted directory
    /// has no business holding them).
    func mknod(_ req: fuse_req_t, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>,
               _ mode: mode_t, _ device: dev_t) throws(SystemError) {
        let directory = try inodes.inode(parent)
        try refuseHidden(name, in: directory)
        switch fileType(mode) {
        case S_IFIFO, S_IFSOCK:
            try checked(mknodat(directory.fd, name, mode, 0))
        case S_IFREG:
            try createEmptyFile(name, mode: mode, in: directory)
        default:
            throw SystemError(EPERM)
        }
        try giveToCaller(req, name, in: directory)
        var entry = try lookUp(name, in: directory)
        fuse_reply_entry(req, &entry)
    }
}
