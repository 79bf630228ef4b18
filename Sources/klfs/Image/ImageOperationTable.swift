import CFuse
import Glibc
import KLBlock

/// The fuse_lowlevel_ops table of an image mount, each entry forwarding to
/// the ``ImageFilesystem`` method of the same name. Outside the @main
/// file, like makeOperationTable, so that no entry is main-actor isolated.
func makeImageOperationTable() -> fuse_lowlevel_ops {
    var ops = fuse_lowlevel_ops()
    ops.`init` = { _, connection in
        // Requests of one device chunk (256 KiB), not 1 MiB: the kernel
        // splits a larger direct or asynchronous request into pieces it
        // sends at once, so the workers encrypt the pieces of one large
        // request on every core together rather than one worker taking
        // all of it (sequential 1 MiB writes went from 0.6 to 1.0 times
        // passthrough_ll's rate, reads from 2 to 3 times). No writeback
        // cache: every write reaches the image before write(2) returns,
        // so a killed daemon loses only what was never acknowledged.
        guard let connection else { return }
        askForLargeRequests(connection, upTo: PlaintextDevice.chunkSize)
        connection.pointee.want &= ~UInt32(FUSE_CAP_WRITEBACK_CACHE)
    }
    ops.lookup = { req, parent, name in
        respondImage(req, .lookup) { fs, req throws(SystemError) in try fs.lookup(req, parent, name!) }
    }
    ops.getattr = { req, node, _ in respondImage(req, .getattr) { fs, req throws(SystemError) in try fs.getattr(req, node) } }
    ops.setattr = { req, node, attributes, fields, _ in
        respondImage(req, .setattr) { fs, req throws(SystemError) in try fs.setattr(req, node, attributes!.pointee, fields) }
    }
    ops.open = { req, node, fi in respondImage(req, .open) { fs, req throws(SystemError) in try fs.open(req, node, fi!) } }
    ops.read = { req, _, size, offset, _ in
        respondImage(req, .read) { fs, req throws(SystemError) in try fs.read(req, size, offset) }
    }
    ops.write = { req, _, data, size, offset, _ in
        respondImage(req, .write) { fs, req throws(SystemError) in try fs.write(req, data, size, offset) }
    }
    ops.flush = { req, _, _ in fuse_reply_err(req, 0) }
    ops.release = { req, _, _ in respondImage(req, .release) { _, req throws(SystemError) in fuse_reply_err(req, 0) } }
    ops.fsync = { req, _, _, _ in respondImage(req, .fsync) { fs, req throws(SystemError) in try fs.fsync(req) } }
    ops.fallocate = { req, _, mode, offset, length, _ in
        respondImage(req, .fallocate) { fs, req throws(SystemError) in try fs.fallocate(req, mode, offset, length) }
    }
    ops.statfs = { req, _ in respondImage(req, .statfs) { fs, req throws(SystemError) in try fs.statfs(req) } }
    ops.opendir = { req, node, fi in
        respondImage(req, .opendir) { _, req throws(SystemError) in
            guard node == ImageFilesystem.rootNode else { throw SystemError(ENOTDIR) }
            fuse_reply_open(req, fi)
        }
    }
    ops.readdir = { req, node, size, offset, _ in
        respondImage(req, .readdir) { fs, req throws(SystemError) in try fs.readdir(req, node, size, offset) }
    }
    ops.releasedir = { req, _, _ in respondImage(req, .releasedir) { _, req throws(SystemError) in fuse_reply_err(req, 0) } }
    return ops
}
