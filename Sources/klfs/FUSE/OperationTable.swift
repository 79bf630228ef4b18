import CFuse
import Glibc

/// The fuse_lowlevel_ops table: one C-callable entry per operation, each
/// forwarding to the ``Filesystem`` method of the same name.
///
/// These closures live outside the @main file on purpose: they must not be
/// main-actor isolated, since libfuse calls them from its worker threads.
func makeOperationTable() -> fuse_lowlevel_ops {
    var ops = fuse_lowlevel_ops()
    ops.`init` = { userdata, connection in
        configureConnection(connection, for: Unmanaged<Filesystem>.fromOpaque(userdata!).takeUnretainedValue())
    }
    ops.lookup = { req, parent, name in respond(req, .lookup) { fs, req throws(SystemError) in try fs.lookup(req, parent, name!) } }
    ops.forget = { req, node, count in
        Filesystem.serving(req!).forget(node, count)
        fuse_reply_none(req)
    }
    ops.forget_multi = { req, count, forgets in
        let filesystem = Filesystem.serving(req!)
        for forget in UnsafeBufferPointer(start: forgets, count: count) {
            filesystem.forget(forget.ino, forget.nlookup)
        }
        fuse_reply_none(req)
    }
    ops.getattr = { req, node, _ in respond(req, .getattr) { fs, req throws(SystemError) in try fs.getattr(req, node) } }
    ops.setattr = { req, node, attributes, fields, fi in
        respond(req, .setattr) { fs, req throws(SystemError) in try fs.setattr(req, node, attributes!.pointee, fields, fi) }
    }
    ops.access = { req, node, mask in respond(req, .access) { fs, req throws(SystemError) in try fs.access(req, node, mask) } }
    ops.statfs = { req, _ in respond(req, .statfs) { fs, req throws(SystemError) in try fs.statfs(req) } }
    ops.readlink = { req, node in respond(req, .readlink) { fs, req throws(SystemError) in try fs.readlink(req, node) } }
    ops.mknod = { req, parent, name, mode, device in
        respond(req, .mknod) { fs, req throws(SystemError) in try fs.mknod(req, parent, name!, mode, device) }
    }
    ops.mkdir = { req, parent, name, mode in
        respond(req, .mkdir) { fs, req throws(SystemError) in try fs.mkdir(req, parent, name!, mode) }
    }
    ops.unlink = { req, parent, name in respond(req, .unlink) { fs, req throws(SystemError) in try fs.unlink(req, parent, name!) } }
    ops.rmdir = { req, parent, name in respond(req, .rmdir) { fs, req throws(SystemError) in try fs.rmdir(req, parent, name!) } }
    ops.symlink = { req, target, parent, name in
        respond(req, .symlink) { fs, req throws(SystemError) in try fs.symlink(req, target!, parent, name!) }
    }
    ops.rename = { req, parent, name, newParent, newName, flags in
        respond(req, .rename) { fs, req throws(SystemError) in try fs.rename(req, parent, name!, newParent, newName!, flags) }
    }
    ops.link = { req, node, newParent, newName in
        respond(req, .link) { fs, req throws(SystemError) in try fs.link(req, node, newParent, newName!) }
    }
    ops.create = { req, parent, name, mode, fi in
        respond(req, .create) { fs, req throws(SystemError) in try fs.create(req, parent, name!, mode, fi!) }
    }
    ops.open = { req, node, fi in respond(req, .open) { fs, req throws(SystemError) in try fs.open(req, node, fi!) } }
    ops.read = { req, _, size, offset, fi in
        respond(req, .read) { fs, req throws(SystemError) in try fs.read(req, size, offset, fi) }
    }
    ops.write = { req, _, data, size, offset, fi in
        respond(req, .write) { fs, req throws(SystemError) in try fs.write(req, data, size, offset, fi) }
    }
    ops.release = { req, _, fi in respond(req, .release) { fs, req throws(SystemError) in fs.release(req, fi) } }
    ops.fsync = { req, _, _, fi in respond(req, .fsync) { fs, req throws(SystemError) in try fs.fsync(req, fi) } }
    ops.fallocate = { req, _, mode, offset, length, fi in
        respond(req, .fallocate) { fs, req throws(SystemError) in try fs.fallocate(req, mode, offset, length, fi) }
    }
    ops.opendir = { req, node, fi in respond(req, .opendir) { fs, req throws(SystemError) in try fs.opendir(req, node, fi!) } }
    ops.readdir = { req, node, size, offset, _ in
        respond(req, .readdir) { fs, req throws(SystemError) in try fs.readdir(req, node, size, offset, plus: false) }
    }
    ops.readdirplus = { req, node, size, offset, _ in
        respond(req, .readdirplus) { fs, req throws(SystemError) in try fs.readdir(req, node, size, offset, plus: true) }
    }
    ops.releasedir = { req, _, _ in respond(req, .releasedir) { fs, req throws(SystemError) in fs.releasedir(req) } }
    ops.fsyncdir = { req, node, datasync, _ in
        respond(req, .fsyncdir) { fs, req throws(SystemError) in try fs.fsyncdir(req, node, datasync) }
    }
    ops.setxattr = { req, node, name, value, size, flags in
        respond(req, .setxattr) { fs, req throws(SystemError) in try fs.setxattr(req, node, name!, value, size, flags) }
    }
    ops.getxattr = { req, node, name, size in
        respond(req, .getxattr) { fs, req throws(SystemError) in try fs.getxattr(req, node, name!, size) }
    }
    ops.listxattr = { req, node, size in respond(req, .listxattr) { fs, req throws(SystemError) in try fs.listxattr(req, node, size) } }
    ops.removexattr = { req, node, name in
        respond(req, .removexattr) { fs, req throws(SystemError) in try fs.removexattr(req, node, name!) }
    }
    return ops
}

/// Capabilities asked of the kernel at INIT (docs/FUSE.md, "Caching").
///
/// - Requests of up to 1 MiB (libfuse caps max_write at its 1 MiB buffer and
///   sets max_pages to match), so large I/O costs few round trips; up to 64
///   background requests (readahead, writeback) in flight rather than 12,
///   which keeps both cores busy on sequential reads.
/// - The writeback cache when asked for (`-o writeback_cache`) on a
///   read-write mount: the kernel gathers small writes into pages and
///   sends them later in large requests. The daemon
///   still sees every byte, and each request's sector read-modify-write
///   still runs under the CipherFile lock; fsync and close flush first.
///   The kernel then owns the size and places O_APPEND writes itself.
/// - readdirplus for every listing: the kernel's own choice (`_AUTO`)
///   leaves `du` and `rm -rf` of a large directory a LOOKUP per name
///   (docs/FUSE.md has the numbers).
/// - No OPENDIR or RELEASEDIR round trips where the kernel allows
///   (DirectoryOperations says how).
private func configureConnection(_ connection: UnsafeMutablePointer<fuse_conn_info>?, for filesystem: Filesystem) {
    guard let connection else { return }
    askForLargeRequests(connection)
    let capable = connection.pointee.capable
    if capable & UInt32(FUSE_CAP_WRITEBACK_CACHE) != 0 && filesystem.options.writebackCache
        && !filesystem.options.readOnly {
        connection.pointee.want |= UInt32(FUSE_CAP_WRITEBACK_CACHE)
        filesystem.writebackCache = true
    } else {
        connection.pointee.want &= ~UInt32(FUSE_CAP_WRITEBACK_CACHE)
    }
    filesystem.statelessDirectories = capable & UInt32(FUSE_CAP_NO_OPENDIR_SUPPORT) != 0
    if capable & UInt32(FUSE_CAP_READDIRPLUS) != 0 {
        connection.pointee.want |= UInt32(FUSE_CAP_READDIRPLUS)
        connection.pointee.want &= ~UInt32(FUSE_CAP_READDIRPLUS_AUTO)
    }
}

/// Requests of up to `largest` bytes (1 MiB unless said; libfuse sets
/// max_pages to match, which bounds reads too), and up to 64 in the
/// background (see above).
func askForLargeRequests(_ connection: UnsafeMutablePointer<fuse_conn_info>, upTo largest: Int = largestRequest) {
    connection.pointee.max_write = UInt32(largest)
    connection.pointee.max_readahead = UInt32(largest)
    connection.pointee.max_background = 64
    connection.pointee.congestion_threshold = 48
}

/// The largest read or write request asked of the kernel.
private let largestRequest = 1 << 20
