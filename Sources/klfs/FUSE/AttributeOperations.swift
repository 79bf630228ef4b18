import CFuse
import Glibc

/// lookup, forget, getattr, setattr, access, statfs.
extension Filesystem {
    /// A name that does not exist is answered as a negative entry (node ID
    /// 0) that the kernel may cache for the entry timeout, like a positive
    /// one: every create goes through this mount and replaces it.
    func lookup(_ req: fuse_req_t, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>) throws(SystemError) {
        let directory = try inodes.inode(parent)
        var entry: fuse_entry_param
        do {
            entry = try lookUp(names.backingName(name, in: directory).name, in: directory)
        } catch where error.code == ENOENT {
            entry = fuse_entry_param()
            entry.entry_timeout = options.entryTimeout
        }
        fuse_reply_entry(req, &entry)
    }

    /// Resolves the backing name `name` in `parent` and counts one kernel lookup of the
    /// result, as every reply carrying an entry must. `name` is an array
    /// because the inode keeps it as its location (callers have one already).
    func lookUp(_ name: [CChar], in parent: Inode) throws(SystemError) -> fuse_entry_param {
        if isHidden(name, in: parent) { throw SystemError(ENOENT) }
        let st = try backingAttributes(name, in: try parent.fd)
        let inode = inodes.remember(attributes: st, at: BackingLocation(parent: parent, name: name))
        do throws(SystemError) {
            var entry = fuse_entry_param()
            entry.ino = inode.nodeID
            entry.attr = try attributes(of: inode, backing: st, header: .name(name, in: parent))
            entry.attr_timeout = options.attributeTimeout
            entry.entry_timeout = options.entryTimeout
            return entry
        } catch {
            inodes.forget(inode.nodeID, count: 1)
            throw error
        }
    }

    /// The backing file's attributes with the plaintext size in st_size
    /// (for a symlink with an encrypted target, the plaintext target's length)
    /// (st_blocks stays the backing file's, which is what the disk holds).
    func attributes(of inode: Inode) throws(SystemError) -> stat {
        if let open = inode.contents.attributesWhileOpen {
            return try attributes(of: inode, backing: open, header: .descriptor)
        }
        return try attributes(of: inode, backing: try backingAttributes(try inode.fd), header: .descriptor)
    }

    /// `st` is the backing file's stat, just taken.
    private func attributes(of inode: Inode, backing st: stat, header: HeaderLocation) throws(SystemError) -> stat {
        var st = st
        if inode.isRegularFile { st.st_size = off_t(plaintextSize(of: inode, header: header)) }
        if inode.type == S_IFLNK && names.encrypts { st.st_size = off_t((try? names.target(of: inode))?.count ?? 0) }
        return st
    }

    func forget(_ node: fuse_ino_t, _ count: UInt64) {
        inodes.forget(node, count: count)
    }

    func getattr(_ req: fuse_req_t, _ node: fuse_ino_t) throws(SystemError) {
        var st = try attributes(of: try inodes.inode(node))
        fuse_reply_attr(req, &st, options.attributeTimeout)
    }

    func setattr(_ req: fuse_req_t, _ node: fuse_ino_t, _ wanted: stat, _ fields: Int32,
                 _ fi: UnsafeMutablePointer<fuse_file_info>?) throws(SystemError) {
        let inode = try inodes.inode(node)
        if fields & FUSE_SET_ATTR_MODE != 0 {
            try checked(chmod(procPath(try inode.fd), wanted.st_mode & 0o7777))
        }
        if fields & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID) != 0 || asksNoChange(fields) {
            let uid = fields & FUSE_SET_ATTR_UID != 0 ? wanted.st_uid : uid_t.max
            let gid = fields & FUSE_SET_ATTR_GID != 0 ? wanted.st_gid : gid_t.max
            try changeOwner(of: inode, to: uid, gid)
        }
        if fields & FUSE_SET_ATTR_SIZE != 0 {
            guard inode.isRegularFile else { throw SystemError(inode.isDirectory ? EISDIR : EINVAL) }
            try truncate(inode, to: UInt64(max(wanted.st_size, 0)))
        }
        if fields & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME) != 0 {
            var times = [
                timeToSet(fields, given: FUSE_SET_ATTR_ATIME, now: FUSE_SET_ATTR_ATIME_NOW, wanted.st_atim),
                timeToSet(fields, given: FUSE_SET_ATTR_MTIME, now: FUSE_SET_ATTR_MTIME_NOW, wanted.st_mtim),
            ]
            try checked(utimensat(AT_FDCWD, procPath(try inode.fd), &times, 0))
        }
        var st = try attributes(of: inode)
        fuse_reply_attr(req, &st, options.attributeTimeout)
    }

    /// chown(-1, -1) reaches the daemon as a setattr without fields (with
    /// ctime alone under the writeback cache); a local filesystem still
    /// marks ctime for it, as a chown of nothing does on the backing file.
    private func asksNoChange(_ fields: Int32) -> Bool {
        let changes = FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID | FUSE_SET_ATTR_SIZE
            | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME
        return fields & changes == 0
    }

    /// chown; uid_t.max or gid_t.max leaves that one. A directory's
    /// metadata files follow a change of its owner or group.
    private func changeOwner(of inode: Inode, to uid: uid_t, _ gid: gid_t) throws(SystemError) {
        let before = inode.isDirectory ? try backingAttributes(inode.fd) : nil
        try checked(fchownat(inode.fd, "", uid, gid, cfuse_at_empty_path | AT_SYMLINK_NOFOLLOW))
        guard let before else { return }
        if (uid != uid_t.max && uid != before.st_uid) || (gid != gid_t.max && gid != before.st_gid) {
            try names.ownerChanged(of: inode)
        }
    }

    private func timeToSet(_ fields: Int32, given: Int32, now: Int32, _ time: timespec) -> timespec {
        if fields & now != 0 { return timespec(tv_sec: 0, tv_nsec: cfuse_utime_now) }
        if fields & given != 0 { return time }
        return timespec(tv_sec: 0, tv_nsec: cfuse_utime_omit)
    }

    /// access(2) without default_permissions: the mode bits judged for the
    /// caller (the daemon may run as root and must not lend its rights).
    func access(_ req: fuse_req_t, _ node: fuse_ino_t, _ mask: Int32) throws(SystemError) {
        let st = try backingAttributes(try inodes.inode(node).fd)
        let caller = fuse_req_ctx(req)!.pointee
        if mask != F_OK && !permits(st, mask, uid: caller.uid, req: req) {
            throw SystemError(EACCES)
        }
        fuse_reply_err(req, 0)
    }

    private func permits(_ st: stat, _ mask: Int32, uid: uid_t, req: fuse_req_t) -> Bool {
        let mode = Int32(st.st_mode)
        if uid == 0 {
            // Root reads and writes anything; it executes what someone can.
            return mask & X_OK == 0 || fileType(st.st_mode) == S_IFDIR || mode & 0o111 != 0
        }
        let granted: Int32
        if uid == st.st_uid {
            granted = (mode >> 6) & 7
        } else if CallerCredentials.isInGroup(st.st_gid, req) {
            granted = (mode >> 3) & 7
        } else {
            granted = mode & 7
        }
        return mask & ~granted == 0
    }

    func statfs(_ req: fuse_req_t) throws(SystemError) {
        var info = statvfs()
        try checked(fstatvfs(try inodes.root.fd, &info))
        fuse_reply_statfs(req, &info)
    }
}
