import CFuse
import Glibc

/// opendir, readdir, readdirplus, releasedir, fsyncdir, mkdir, rmdir.
///
/// Directories keep no open state in the daemon: opendir answers ENOSYS
/// when the kernel can take that for success (FUSE_CAP_NO_OPENDIR_SUPPORT),
/// after which it sends neither OPENDIR nor RELEASEDIR again, two round
/// trips saved per directory that `ls -R`, `du` or `rm -rf` walks. Each
/// readdir opens its own stream at the offset the kernel gives.
extension Filesystem {
    func opendir(_ req: fuse_req_t, _ node: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>) throws(SystemError) {
        if statelessDirectories { throw SystemError(ENOSYS) }
        _ = try inodes.inode(node)
        fuse_reply_open(req, fi)
    }

    func releasedir(_ req: fuse_req_t) {
        fuse_reply_err(req, 0)
    }

    func fsyncdir(_ req: fuse_req_t, _ node: fuse_ino_t, _ datasync: Int32) throws(SystemError) {
        let fd = try DirectoryStream.openForReading(try inodes.inode(node).fd)
        defer { close(fd) }
        try checked(datasync != 0 ? fdatasync(fd) : Glibc.fsync(fd))
        fuse_reply_err(req, 0)
    }

    /// readdir and readdirplus: fills one reply buffer of at most `size`
    /// bytes, starting at `offset` (a telldir cookie, or 0). readdirplus
    /// entries count a lookup each, undone for an entry that did not fit,
    /// which the next request starts with.
    func readdir(_ req: fuse_req_t, _ node: fuse_ino_t, _ size: Int, _ offset: off_t,
                 plus: Bool) throws(SystemError) {
        let directory = try inodes.inode(node)
        let listing = try DirectoryStream(try directory.fd, at: offset)
        try withReplyBuffer(size) { reply throws(SystemError) in
            let buffer = reply.baseAddress!.assumingMemoryBound(to: CChar.self)
            let used = try fill(buffer, size, from: listing, of: directory, req, plus: plus)
            fuse_reply_buf(req, buffer, used)
        }
    }

    /// Entries from `listing` into `buffer` while they fit; returns the
    /// bytes used.
    private func fill(_ buffer: UnsafeMutablePointer<CChar>, _ size: Int, from listing: DirectoryStream,
                      of directory: Inode, _ req: fuse_req_t, plus: Bool) throws(SystemError) -> Int {
        var used = 0
        while true {
            errno = 0
            guard let entry = Glibc.readdir(listing.stream) else {
                if errno != 0 && used == 0 { throw SystemError.current }
                break
            }
            let next = off_t(entry.pointee.d_off)
            let added = try withUnsafePointer(to: &entry.pointee.d_name) { namePointer throws(SystemError) -> Int in
                let name = UnsafeRawPointer(namePointer).assumingMemoryBound(to: CChar.self)
                if isHidden(name, in: directory) { return 0 }
                guard let plain = try names.plaintextName(name, in: directory) else { return 0 }
                let room = size - used
                if plus {
                    return try addEntryPlus(req, buffer + used, room, plain, name, entry.pointee, next, in: directory)
                }
                var st = stat()
                st.st_ino = entry.pointee.d_ino
                st.st_mode = mode_t(entry.pointee.d_type) << 12
                let needed = fuse_add_direntry(req, buffer + used, room, plain, &st, next)
                return needed <= room ? needed : -1
            }
            if added < 0 { break }
            used += added
        }
        return used
    }

    /// One readdirplus entry (`name` as listed, `backing` as stored), or
    /// -1 when it does not fit in `room`. An entry without a node ID (the
    /// dot entries, and any in a directory the daemon may read but not
    /// search, as a listing needs no search permission) carries its name
    /// and type only, and counts no lookup.
    private func addEntryPlus(_ req: fuse_req_t, _ buffer: UnsafeMutablePointer<CChar>, _ room: Int,
                              _ name: [CChar], _ backing: UnsafePointer<CChar>, _ raw: dirent, _ next: off_t,
                              in directory: Inode) throws(SystemError) -> Int {
        var entry = fuse_entry_param()
        entry.attr.st_ino = raw.d_ino
        entry.attr.st_mode = mode_t(raw.d_type) << 12
        if strcmp(backing, ".") != 0 && strcmp(backing, "..") != 0 {
            do {
                entry = try lookUp(cString(backing), in: directory)
            } catch where error.code == ENOENT {
                return 0  // Removed since the stream read it.
            } catch where error.code == EACCES {
                // Name and type only, as above.
            }
        }
        let needed = fuse_add_direntry_plus(req, buffer, room, name, &entry, next)
        if needed > room {
            if entry.ino != 0 { inodes.forget(entry.ino, count: 1) }
            return -1
        }
        return needed
    }

    func mkdir(_ req: fuse_req_t, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>, _ mode: mode_t) throws(SystemError) {
        let directory = try inodes.inode(parent)
        try refuseHidden(name, in: directory)
        let backing = try names.backingName(name, in: directory)
        try names.creating(backing, in: directory) { () throws(SystemError) in
            try names.makeDirectory(backing.name, mode: mode, in: directory) { make throws(SystemError) in
                try asCaller(req, make)
            }
        }
        var entry = try lookUp(backing.name, in: directory)
        fuse_reply_entry(req, &entry)
    }

    func rmdir(_ req: fuse_req_t, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>) throws(SystemError) {
        let directory = try inodes.inode(parent)
        if isHidden(name, in: directory) { throw SystemError(ENOENT) }
        let backing = try names.backingName(name, in: directory)
        let removed = try entry(backing.name, in: directory)
        try removing(backing.name, from: directory, of: removed?.known) { () throws(SystemError) in
            try names.removeDirectory(backing.name, in: directory)
        }
        names.removed(backing, in: directory)
        fuse_reply_err(req, 0)
    }
}
