import CFuse
import Glibc
import KLBlock

/// create, open, read, write, release, fsync, fallocate. FLUSH has no
/// handler: writes reach the backing file as they arrive (and with the
/// writeback cache the kernel writes dirty pages before it would send
/// FLUSH), so there is nothing to flush, and the ENOSYS libfuse answers
/// tells the kernel to stop sending it, a round trip saved per close.
extension Filesystem {
    /// create makes the backing file exclusively, so that it never writes
    /// a fresh header over an existing file; a create without O_EXCL that
    /// finds a file opens it instead.
    func create(_ req: fuse_req_t, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>, _ mode: mode_t,
                _ fi: UnsafeMutablePointer<fuse_file_info>) throws(SystemError) {
        let directory = try inodes.inode(parent)
        try refuseHidden(name, in: directory)
        if options.readOnly { throw SystemError(EROFS) }
        let backing = try names.backingName(name, in: directory)
        let created: (fd: Int32, file: CipherFile)
        do {
            created = try names.creating(backing, in: directory) { () throws(SystemError) in
                try createFile(backing.name, mode: mode, in: directory, for: req)
            }
        } catch where error.code == EEXIST && fi.pointee.flags & O_EXCL == 0 {
            var entry = try lookUp(backing.name, in: directory)
            try attachHandle(req, to: fi, for: try inodes.inode(entry.ino))
            replyCreate(req, &entry, fi)
            return
        }
        var entry: fuse_entry_param
        let inode: Inode
        do {
            entry = try lookUp(backing.name, in: directory)
            inode = try inodes.inode(entry.ino)
        } catch {
            close(created.fd)
            throw error
        }
        var adopted = false
        let writes = fi.pointee.flags & O_ACCMODE != O_RDONLY
        let file: CipherFile
        do {
            file = try acquireContents(of: inode, forWriting: writes) { () throws(SystemError) -> OpenedContents in
                adopted = true
                return (created.fd, created.file, nil)
            }
        } catch {
            close(created.fd)
            throw error
        }
        if !adopted { close(created.fd) }
        attachOpenFile(OpenFile(inode: inode, file: file, appends: appendsInDaemon(fi.pointee.flags)), to: fi)
        replyCreate(req, &entry, fi)
    }

    private func replyCreate(_ req: fuse_req_t, _ entry: inout fuse_entry_param,
                             _ fi: UnsafeMutablePointer<fuse_file_info>) {
        if fuse_reply_create(req, &entry, fi) != 0 {
            // The caller went away (interrupted): nobody will release this.
            OpenFile.detach(from: fi).close()
        }
    }

    func open(_ req: fuse_req_t, _ node: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>) throws(SystemError) {
        try attachHandle(req, to: fi, for: try inodes.inode(node))
        if fuse_reply_open(req, fi) != 0 {
            OpenFile.detach(from: fi).close()
        }
    }

    /// Opens the inode's contents for one handle, applying O_TRUNC (the
    /// kernel usually sends a setattr instead, but may not).
    private func attachHandle(_ req: fuse_req_t, to fi: UnsafeMutablePointer<fuse_file_info>,
                              for inode: Inode) throws(SystemError) {
        guard inode.isRegularFile else { throw SystemError(inode.isDirectory ? EISDIR : EINVAL) }
        let flags = fi.pointee.flags
        let writes = flags & O_ACCMODE != O_RDONLY
        if writes && options.readOnly { throw SystemError(EROFS) }
        let file = try acquireContents(of: inode, forWriting: writes, joining: { () throws(SystemError) in
            try requireAccess(to: inode, openedWith: flags)
        })
        let handle = OpenFile(inode: inode, file: file, appends: appendsInDaemon(flags))
        if writes && flags & O_TRUNC != 0 {
            do {
                try truncate(file, of: inode, to: 0)
            } catch {
                handle.close()
                throw error
            }
            dropSetIDBits(of: inode, truncatedBy: req)
        }
        attachOpenFile(handle, to: fi)
    }

    /// An open that joins another handle's backing descriptor opens
    /// nothing itself, so a daemon that is not root (whose mount has no
    /// default_permissions) checks the access asked for as opening would.
    /// A root daemon's callers are root, or the kernel checked them
    /// (default_permissions).
    private func requireAccess(to inode: Inode, openedWith flags: Int32) throws(SystemError) {
        guard !runsAsRoot else { return }
        let mask: Int32
        switch flags & O_ACCMODE {
        case O_RDONLY: mask = R_OK
        case O_WRONLY: mask = W_OK
        default: mask = R_OK | W_OK
        }
        try checked(faccessat(AT_FDCWD, procPath(try inode.fd), mask, AT_EACCESS))
    }

    /// An unprivileged caller's truncate drops the set-user-ID bit, and the
    /// set-group-ID bit of a group-executable file or of one whose group
    /// the caller is not in (the kernel's rule since 6.2), as on a local
    /// filesystem. The kernel does this itself for writes and for truncates
    /// it sends as setattr, but an O_TRUNC open reaches the daemon whole
    /// (atomic O_TRUNC), and the daemon's own truncate, as root, keeps
    /// them. "Privileged" is uid 0 here: the request does not carry the
    /// caller's capabilities.
    private func dropSetIDBits(of inode: Inode, truncatedBy req: fuse_req_t) {
        let caller = fuse_req_ctx(req)!.pointee
        guard caller.uid != 0, let fd = try? inode.fd, let st = try? backingAttributes(fd) else { return }
        var mode = st.st_mode & 0o7777
        if mode & S_ISUID != 0 { mode &= ~S_ISUID }
        if mode & S_ISGID != 0 && (mode & S_IXGRP != 0 || !CallerCredentials.isInGroup(st.st_gid, req)) {
            mode &= ~S_ISGID
        }
        if mode != st.st_mode & 0o7777 { chmod(procPath(fd), mode) }
    }

    /// With the writeback cache the kernel owns the size and sends O_APPEND
    /// writes at their offsets, which the daemon must then honour.
    private func appendsInDaemon(_ flags: Int32) -> Bool {
        flags & O_APPEND != 0 && !writebackCache
    }

    /// keep_cache: pages cached by an earlier open stay valid, since every
    /// change to the file goes through this mount (docs/FUSE.md, "Caching").
    private func attachOpenFile(_ handle: OpenFile, to fi: UnsafeMutablePointer<fuse_file_info>) {
        fi.pointee.keep_cache = 1
        handle.attach(to: fi)
    }

    func read(_ req: fuse_req_t, _ size: Int, _ offset: off_t,
              _ fi: UnsafeMutablePointer<fuse_file_info>?) throws(SystemError) {
        let handle = OpenFile.attached(to: fi)
        try withReplyBuffer(size) { buffer throws(SystemError) in
            let count: Int
            do throws(CipherFileError) {
                count = try handle.file.read(into: buffer, at: Int(offset))
            } catch {
                throw failure(error, in: handle.inode)
            }
            statistics.bytesRead.add(UInt64(count))
            fuse_reply_buf(req, buffer.baseAddress!.assumingMemoryBound(to: CChar.self), count)
        }
    }

    func write(_ req: fuse_req_t, _ data: UnsafePointer<CChar>?, _ size: Int, _ offset: off_t,
               _ fi: UnsafeMutablePointer<fuse_file_info>?) throws(SystemError) {
        if options.readOnly { throw SystemError(EROFS) }
        let handle = OpenFile.attached(to: fi)
        let bytes = UnsafeRawBufferPointer(start: data, count: size)
        let written: Int
        do {
            written = handle.appends ? try handle.file.append(bytes).count
                                     : try handle.file.write(bytes, at: Int(offset))
        } catch {
            throw failure(error, in: handle.inode)
        }
        statistics.bytesWritten.add(UInt64(written))
        fuse_reply_write(req, written)
    }

    func release(_ req: fuse_req_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) {
        OpenFile.detach(from: fi).close()
        fuse_reply_err(req, 0)
    }

    /// Data and the header's size live in one backing file: one fsync
    /// covers both, for fsync and fdatasync alike.
    func fsync(_ req: fuse_req_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) throws(SystemError) {
        let handle = OpenFile.attached(to: fi)
        do {
            try handle.file.sync()
        } catch {
            throw failure(error, in: handle.inode)
        }
        fuse_reply_err(req, 0)
    }

    /// The default mode reserves backing space for the range and grows the
    /// file to its end, so that later writes there cannot fail with ENOSPC,
    /// as posix_fallocate promises (CipherFile.allocate says how, and
    /// docs/FUSE.md why). FALLOC_FL_KEEP_SIZE reserves within the size
    /// only; punching holes and the other modes are not supported.
    func fallocate(_ req: fuse_req_t, _ mode: Int32, _ offset: off_t, _ length: off_t,
                   _ fi: UnsafeMutablePointer<fuse_file_info>?) throws(SystemError) {
        guard mode & ~cfuse_falloc_fl_keep_size == 0 else { throw SystemError(EOPNOTSUPP) }
        guard offset >= 0, length > 0 else { throw SystemError(EINVAL) }
        if options.readOnly { throw SystemError(EROFS) }
        let handle = OpenFile.attached(to: fi)
        let (end, overflow) = Int(offset).addingReportingOverflow(Int(length))
        if overflow { throw SystemError(EFBIG) }
        do {
            try handle.file.allocate(Int(offset)..<end, keepingSize: mode & cfuse_falloc_fl_keep_size != 0)
        } catch {
            throw failure(error, in: handle.inode)
        }
        fuse_reply_err(req, 0)
    }
}
