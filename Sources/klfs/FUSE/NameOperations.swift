import CFuse
import Glibc

/// unlink, rename, link, symlink, readlink, mknod, and the rules every
/// operation that makes a name follows.
extension Filesystem {
    /// Nothing may create, or rename onto, the hidden config name.
    func refuseHidden(_ name: UnsafePointer<CChar>, in parent: Inode) throws(SystemError) {
        if isHidden(name, in: parent) { throw SystemError(EPERM) }
    }

    func unlink(_ req: fuse_req_t, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>) throws(SystemError) {
        let directory = try inodes.inode(parent)
        if isHidden(name, in: directory) { throw SystemError(ENOENT) }
        let backing = try names.backingName(name, in: directory)
        let directoryFD = try directory.fd
        let removed = try entry(backing.name, in: directory)
        if let removed { inodes.forgottenSizes.drop(BackingID(removed.attributes)) }
        try removing(backing.name, from: directory, of: removed?.known) { () throws(SystemError) in
            try checked(unlinkat(directoryFD, backing.name, 0))
        }
        names.removed(backing, in: directory)
        if let removed, let known = removed.known,
           Int(removed.attributes.st_blocks) * 512 >= Self.spaceReleasedAtUnlink {
            releaseSpace(of: known)
        }
        fuse_reply_err(req, 0)
    }

    /// Files holding at least this much are emptied by unlink itself; the
    /// space of smaller ones comes back within about 10 ms of the kernel's
    /// FORGET (InodeTable closes them in batches), which keeps a truncate
    /// off the path of every `rm` of a small file.
    static let spaceReleasedAtUnlink = 1 << 20

    /// A large file whose last name went and that nobody has open is
    /// emptied at once. Its backing file lives on only through the inode's
    /// O_PATH descriptor until the kernel's FORGET, which is asynchronous:
    /// without this, `rm big; write` on a full disk could see ENOSPC.
    private func releaseSpace(of inode: Inode) {
        guard inode.isRegularFile, let path = try? procPath(inode.fd), let st = try? backingAttributes(inode.fd),
              st.st_nlink == 0 else { return }
        inode.contents.whileUnused { () -> KnownSize? in
            let fd = Glibc.open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            return ftruncate(fd, 0) == 0 ? KnownSize(0, descriptor: fd) : nil
        }
    }

    /// RENAME_NOREPLACE and RENAME_EXCHANGE go to renameat2 as they are.
    /// Across directories the name is encrypted under the target's IV. An
    /// exchange keeps both names, so both long-name sidecars stay. A
    /// directory replacing an empty one: NameTranslation.rename.
    func rename(_ req: fuse_req_t, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>,
                _ newParent: fuse_ino_t, _ newName: UnsafePointer<CChar>, _ flags: UInt32) throws(SystemError) {
        guard flags & ~(cfuse_rename_noreplace | cfuse_rename_exchange) == 0 else { throw SystemError(EINVAL) }
        let from = try inodes.inode(parent), to = try inodes.inode(newParent)
        if isHidden(name, in: from) { throw SystemError(ENOENT) }
        try refuseHidden(newName, in: to)
        let source = try names.backingName(name, in: from), target = try names.backingName(newName, in: to)
        let fromFD = try from.fd, toFD = try to.fd
        let moving = try entry(source.name, in: from)?.known
        let replaced = try entry(target.name, in: to)
        if let replaced { inodes.forgottenSizes.drop(BackingID(replaced.attributes)) }
        let renamed = { () throws(SystemError) -> Void in
            try checked(cfuse_renameat2(fromFD, source.name, toFD, target.name, flags))
        }
        if flags & cfuse_rename_exchange != 0 {
            try inodes.descriptors.movingNames { () throws(SystemError) in
                try renamed()
                if let moving { inodes.descriptors.moved(moving, to: BackingLocation(parent: to, name: target.name)) }
                if let other = replaced?.known {
                    inodes.descriptors.moved(other, to: BackingLocation(parent: from, name: source.name))
                }
            }
        } else {
            let other = replaced?.known === moving ? nil : replaced?.known
            try names.creating(target, in: to) { () throws(SystemError) in
                try removing(target.name, from: to, of: other) { () throws(SystemError) in
                    try names.rename(source.name, in: from, to: target.name, in: to, flags: flags)
                    if let moving { inodes.descriptors.moved(moving, to: BackingLocation(parent: to, name: target.name)) }
                }
            }
            names.removed(source, in: from)
        }
        fuse_reply_err(req, 0)
    }

    /// The backing entry `name` of `directory`: its attributes, and its
    /// inode if the kernel knows it.
    func entry(_ name: [CChar], in directory: Inode) throws(SystemError) -> (attributes: stat, known: Inode?)? {
        var st = stat()
        guard fstatat(try directory.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        return (st, inodes.known(BackingID(st)))
    }

    /// Runs `remove`, which takes the backing name `name` in `directory`
    /// away from `inode` (unlink, rmdir, a rename over it). If the inode
    /// went by that name, its descriptor, taken first, stays open for it
    /// (``DescriptorCache/orphan(_:keeping:)``).
    func removing(_ name: [CChar], from directory: Inode, of inode: Inode?,
                  _ remove: () throws(SystemError) -> Void) throws(SystemError) {
        let descriptors = inodes.descriptors
        let orphan = inode.flatMap { inode in
            descriptors.isNamed(inode, name, in: directory) ? try? descriptors.pinnedDescriptor(of: inode) : nil
        }
        try descriptors.movingNames { () throws(SystemError) in
            try remove()
            if let inode, let orphan { descriptors.orphan(inode, keeping: orphan) }
        }
    }

    /// The new name is one more lookup of the same inode.
    func link(_ req: fuse_req_t, _ node: fuse_ino_t, _ newParent: fuse_ino_t,
              _ newName: UnsafePointer<CChar>) throws(SystemError) {
        let inode = try inodes.inode(node), directory = try inodes.inode(newParent)
        try refuseHidden(newName, in: directory)
        let backing = try names.backingName(newName, in: directory)
        try names.creating(backing, in: directory) { () throws(SystemError) in
            try checked(linkat(AT_FDCWD, procPath(try inode.fd), try directory.fd, backing.name, AT_SYMLINK_FOLLOW))
        }
        var entry = try lookUp(backing.name, in: directory)
        fuse_reply_entry(req, &entry)
    }

    /// With encrypted names the target is stored encrypted (FORMAT.md,
    /// "Symlink targets"), else as given.
    func symlink(_ req: fuse_req_t, _ target: UnsafePointer<CChar>, _ parent: fuse_ino_t,
                 _ name: UnsafePointer<CChar>) throws(SystemError) {
        let directory = try inodes.inode(parent)
        try refuseHidden(name, in: directory)
        let backing = try names.backingName(name, in: directory)
        let stored = try names.backingTarget(target)
        try names.creating(backing, in: directory) { () throws(SystemError) in
            let directoryFD = try directory.fd
            try asCaller(req) { () throws(SystemError) in try checked(symlinkat(stored, directoryFD, backing.name)) }
        }
        var entry = try lookUp(backing.name, in: directory)
        fuse_reply_entry(req, &entry)
    }

    func readlink(_ req: fuse_req_t, _ node: fuse_ino_t) throws(SystemError) {
        let target = try names.target(of: try inodes.inode(node))
        fuse_reply_readlink(req, target.map { CChar(bitPattern: $0) } + [0])
    }

    /// FIFOs, sockets and device nodes are made as they are; a regular
    /// file becomes an empty klfs file. Device nodes need a root daemon
    /// (the backing mknod refuses anyone else with EPERM): `tar -x` of a
    /// system tree or a backup restore needs them, and the mount is nodev
    /// unless asked otherwise (MountOptionList), so they are inert there.
    func mknod(_ req: fuse_req_t, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>,
               _ mode: mode_t, _ device: dev_t) throws(SystemError) {
        let directory = try inodes.inode(parent)
        try refuseHidden(name, in: directory)
        let backing = try names.backingName(name, in: directory)
        try names.creating(backing, in: directory) { () throws(SystemError) in
            switch fileType(mode) {
            case S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK:
                let directoryFD = try directory.fd
                try asCaller(req) { () throws(SystemError) in try checked(mknodat(directoryFD, backing.name, mode, device)) }
            case S_IFREG:
                try createEmptyFile(backing.name, mode: mode, in: directory, for: req)
            default:
                throw SystemError(EPERM)
            }
        }
        var entry = try lookUp(backing.name, in: directory)
        fuse_reply_entry(req, &entry)
    }
}
