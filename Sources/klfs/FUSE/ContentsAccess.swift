import CFuse
import Glibc
import KLBlock

/// Opening a regular file's contents and turning ``CipherFileError``s
/// into errnos, logging damaged backing files once each.
extension Filesystem {
    /// The inode's shared contents, opened for the first user; a later
    /// one runs `joining` first (SharedContents.acquire). The caller
    /// hands them back with `inode.releaseContents()`.
    func acquireContents(of inode: Inode, forWriting: Bool,
                         joining: () throws(SystemError) -> Void = {}) throws(SystemError) -> CipherFile {
        try acquireContents(of: inode, forWriting: forWriting,
                            joining: joining) { () throws(SystemError) -> OpenedContents in
            let (fd, through) = try openBacking(inode, forWriting: forWriting)
            do throws(CipherFileError) {
                return (fd, try CipherFile.open(descriptor: fd, format: fileFormat), through)
            } catch {
                close(fd)
                throw failure(error, in: inode)
            }
        }
    }

    /// The backing descriptor and the file over it, and the O_PATH
    /// descriptor they were opened through, if not by name.
    typealias OpenedContents = (fd: Int32, file: CipherFile, through: PathDescriptor?)

    /// The same, opened with `open` for the first user (create hands over
    /// the file it made). A writer gets a writable backing descriptor
    /// whoever opened it first.
    func acquireContents(of inode: Inode, forWriting: Bool, joining: () throws(SystemError) -> Void = {},
                         _ open: () throws(SystemError) -> OpenedContents) throws(SystemError) -> CipherFile {
        try inode.contents.acquire(writer: forWriting, joining: joining, openWritable: { () throws(SystemError) -> Int32 in
            let path = procPath(try inode.fd)
            return try openReadWrite(forWriting: true) { flags throws(SystemError) in
                try checked(Glibc.open(path, flags | O_CLOEXEC))
            }
        }) { () throws(SystemError) -> (Int32, CipherFile) in
            let opened = try open()
            inodes.descriptors.contentsOpened(inode, through: opened.through)
            return (opened.fd, opened.file)
        }
    }

    /// The inode's backing file, by the name it goes by when the cache
    /// holds no descriptor for it, else (or should the name lead elsewhere
    /// by now) through its O_PATH descriptor, which is returned too.
    private func openBacking(_ inode: Inode, forWriting: Bool) throws(SystemError) -> (Int32, PathDescriptor?) {
        if let location = inodes.descriptors.locationWithoutDescriptor(of: inode),
           let fd = try? openReadWrite(forWriting: forWriting, { flags throws(SystemError) in
               // O_NONBLOCK: a FIFO put in the file's place must not hang the open.
               try location.open(flags | O_NONBLOCK, expecting: inode.backing)
           }) {
            return (fd, nil)
        }
        let pathDescriptor = try inodes.descriptors.pinnedDescriptor(of: inode)
        let path = procPath(pathDescriptor.fd)
        let fd = try openReadWrite(forWriting: forWriting) { flags throws(SystemError) in
            try checked(Glibc.open(path, flags | O_CLOEXEC))
        }
        return (fd, pathDescriptor)
    }

    /// Backing files are opened read-write whatever the request's mode,
    /// since a partial-sector write reads the sector first; read-only when
    /// the mount is, or when a read-only request may not have more.
    /// `open` opens with the access flags it is given.
    private func openReadWrite(forWriting: Bool,
                               _ open: (Int32) throws(SystemError) -> Int32) throws(SystemError) -> Int32 {
        if options.readOnly { return try open(O_RDONLY) }
        do {
            return try open(O_RDWR)
        } catch where error.code == EACCES && !forWriting {
            return try open(O_RDONLY)
        }
    }

    /// Runs `body` on the inode's contents, opening them if no handle has.
    func withContents<R>(of inode: Inode, forWriting: Bool,
                         _ body: (CipherFile) throws(CipherFileError) -> R) throws(SystemError) -> R {
        let file = try acquireContents(of: inode, forWriting: forWriting)
        defer { inode.releaseContents() }
        do throws(CipherFileError) {
            return try body(file)
        } catch {
            throw failure(error, in: inode)
        }
    }

    /// The errno a ``CipherFileError`` answers with; damage is logged.
    func failure(_ error: CipherFileError, in inode: Inode) -> SystemError {
        switch error {
        case .crypto(let engineError) where engineError.meansVolumeLocked: return .keysRevoked
        case .corrupt, .crypto: logDamaged(inode, error.description)
        default: break
        }
        return SystemError(error.errno)
    }

    /// getattr's st_size: the open file's size, else the last known, else
    /// the header's. A damaged file shows as empty (and is logged) so that
    /// it can still be listed, renamed and removed; reading it gives EIO.
    func plaintextSize(of inode: Inode, header: HeaderLocation = .descriptor) -> Int {
        inode.contents.size { headerSize(of: inode, at: header) } ?? 0
    }

    private func headerSize(of inode: Inode, at location: HeaderLocation) -> KnownSize? {
        guard let fd = location.open(inode, descriptors: inodes.descriptors) else { return nil }
        defer { close(fd) }
        do throws(CipherFileError) {
            return KnownSize(try CipherFileHeader.read(fromDescriptor: fd, format: fileFormat)?.size ?? 0, descriptor: fd)
        } catch {
            _ = failure(error, in: inode)
            return nil
        }
    }

    func truncate(_ inode: Inode, to size: UInt64) throws(SystemError) {
        let file = try acquireContents(of: inode, forWriting: true)
        defer { inode.releaseContents() }
        try truncate(file, of: inode, to: Int(size))
    }

    /// Truncates `file`, the contents of `inode`. A truncate that leaves
    /// the size as it was still marks mtime and ctime, as local filesystems
    /// do (and POSIX asks of O_TRUNC); CipherFile does not touch the backing
    /// file then, so the times are set here, off the path of any truncate
    /// that changes the size.
    func truncate(_ file: CipherFile, of inode: Inode, to size: Int) throws(SystemError) {
        let unchanged = file.size == size
        do throws(CipherFileError) {
            try file.truncate(to: size)
        } catch {
            throw failure(error, in: inode)
        }
        guard unchanged else { return }
        var times = [timespec(tv_sec: 0, tv_nsec: cfuse_utime_omit), timespec(tv_sec: 0, tv_nsec: cfuse_utime_now)]
        try checked(utimensat(AT_FDCWD, procPath(try inode.fd), &times, 0))
    }

    /// A new, empty klfs file at `name` in `directory`, made exclusively
    /// (so that no existing file's header is ever overwritten) with the
    /// credentials of the caller of `req`; returns its open backing
    /// descriptor and contents (the caller owns both). The daemon writes
    /// the header itself: a write by a caller without CAP_FSETID would
    /// clear the set-user-ID bit the caller asked for.
    func createFile(_ name: UnsafePointer<CChar>, mode: mode_t, in directory: Inode,
                    for req: fuse_req_t) throws(SystemError) -> (Int32, CipherFile) {
        let directoryFD = try directory.fd
        let fd = try asCaller(req) { () throws(SystemError) in
            try checked(openat(directoryFD, name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, mode & 0o7777))
        }
        let created = mode & (S_ISUID | S_ISGID) != 0 ? try? backingAttributes(fd) : nil
        do throws(CipherFileError) {
            let file = try CipherFile.create(descriptor: fd, format: fileFormat)
            if let created { restoreSetIDBits(of: fd, to: created.st_mode) }
            return (fd, file)
        } catch {
            // The header did not fit (ENOSPC): the create fails, so its name
            // must not stay behind as an empty file.
            unlinkat(directoryFD, name, 0)
            close(fd)
            throw SystemError(error.errno)
        }
    }

    /// A daemon that is not root lacks CAP_FSETID, so its header write
    /// drops the new file's set-user-ID bit (and a group-executable
    /// set-group-ID bit); the owner, which it is, sets back the bits the
    /// file was created with (those the backing filesystem gave, no more).
    private func restoreSetIDBits(of fd: Int32, to created: mode_t) {
        guard let now = try? backingAttributes(fd), now.st_mode != created else { return }
        fchmod(fd, created & 0o7777)
    }

    /// mknod with S_IFREG: a klfs file nobody has open.
    func createEmptyFile(_ name: UnsafePointer<CChar>, mode: mode_t, in directory: Inode,
                         for req: fuse_req_t) throws(SystemError) {
        let (fd, _) = try createFile(name, mode: mode, in: directory, for: req)
        close(fd)
    }
}

/// How to reach a regular file to read its header: by the name a lookup
/// just resolved, or the inode's own (one path step each), or through
/// /proc/self/fd of the inode's O_PATH descriptor (a walk through procfs,
/// more than twice the cost).
enum HeaderLocation {
    case name([CChar], in: Inode)
    case descriptor

    /// A read-only descriptor on the inode's backing file, or nil. A name
    /// that leads elsewhere by now (renamed meanwhile) falls back to the
    /// descriptor, so the size read is always this inode's.
    func open(_ inode: Inode, descriptors: DescriptorCache) -> Int32? {
        let byName: BackingLocation? = switch self {
        case .name(let name, let parent): BackingLocation(parent: parent, name: name)
        case .descriptor: descriptors.locationWithoutDescriptor(of: inode)
        }
        if let byName, let fd = try? byName.open(O_RDONLY | O_NONBLOCK, expecting: inode.backing) { return fd }
        guard let path = try? procPath(inode.fd) else { return nil }
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        return fd >= 0 ? fd : nil
    }
}
