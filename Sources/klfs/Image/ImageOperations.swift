import CFuse
import Glibc
import KLBlock

// One function per FUSE operation of an image mount (docs/IMAGE.md,
// "The mount").
extension ImageFilesystem {
    func lookup(_ req: fuse_req_t, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>) throws(SystemError) {
        guard parent == Self.rootNode, String(cString: name) == Self.deviceName else { throw SystemError(ENOENT) }
        var entry = fuse_entry_param()
        entry.ino = Self.deviceNode
        entry.generation = 1
        entry.attr = try attributes(of: Self.deviceNode)
        entry.attr_timeout = attributeTimeout
        entry.entry_timeout = attributeTimeout
        fuse_reply_entry(req, &entry)
    }

    func getattr(_ req: fuse_req_t, _ node: fuse_ino_t) throws(SystemError) {
        var st = try attributes(of: node)
        fuse_reply_attr(req, &st, attributeTimeout)
    }

    /// Only the size can change: a truncate resizes the image (whole
    /// sectors, layouts that run to the image's end; EINVAL otherwise).
    /// Mode, owner and times are the image's and stay as they are.
    func setattr(_ req: fuse_req_t, _ node: fuse_ino_t, _ wanted: stat, _ fields: Int32) throws(SystemError) {
        if fields & FUSE_SET_ATTR_SIZE != 0 {
            guard node == Self.deviceNode else { throw SystemError(EISDIR) }
            guard !readOnly else { throw SystemError(EROFS) }
            try imageCall { () throws(ImageError) in
                if try device.size() != Int(wanted.st_size) { try device.resize(to: Int(wanted.st_size)) }
            }
        }
        var st = try attributes(of: node)
        fuse_reply_attr(req, &st, attributeTimeout)
    }

    func open(_ req: fuse_req_t, _ node: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>) throws(SystemError) {
        guard node == Self.deviceNode else { throw SystemError(EISDIR) }
        if readOnly && fi.pointee.flags & O_ACCMODE != O_RDONLY { throw SystemError(EROFS) }
        fuse_reply_open(req, fi)
    }

    func read(_ req: fuse_req_t, _ size: Int, _ offset: off_t) throws(SystemError) {
        try withReplyBuffer(size) { buffer throws(SystemError) in
            let count = try imageCall { () throws(ImageError) in try device.read(into: buffer, at: Int(offset)) }
            statistics.bytesRead.add(UInt64(count))
            fuse_reply_buf(req, buffer.baseAddress, count)
        }
    }

    func write(_ req: fuse_req_t, _ data: UnsafePointer<CChar>?, _ size: Int, _ offset: off_t) throws(SystemError) {
        guard !readOnly else { throw SystemError(EROFS) }
        let count = try imageCall { () throws(ImageError) in
            try device.write(UnsafeRawBufferPointer(start: data, count: size), at: Int(offset))
        }
        statistics.bytesWritten.add(UInt64(count))
        fuse_reply_write(req, count)
    }

    /// Every write reached the image before it was answered: nothing to
    /// flush at close, and fsync is the image's fdatasync.
    func fsync(_ req: fuse_req_t) throws(SystemError) {
        try imageCall { () throws(ImageError) in try device.sync() }
        fuse_reply_err(req, 0)
    }

    /// PUNCH_HOLE (with KEEP_SIZE, as the loop driver sends a discard)
    /// discards: holes in the image. ZERO_RANGE writes encrypted zeros
    /// (the loop driver's WRITE_ZEROES). Plain allocation (mode 0) and the
    /// rest answer EOPNOTSUPP: a dm-crypt device has no fallocate, and the
    /// image's space is the image file's business.
    func fallocate(_ req: fuse_req_t, _ mode: Int32, _ offset: off_t, _ length: off_t) throws(SystemError) {
        guard !readOnly else { throw SystemError(EROFS) }
        let keepSize = cfuse_falloc_fl_keep_size
        switch mode {
        case cfuse_falloc_fl_punch_hole | keepSize:
            try imageCall { () throws(ImageError) in try device.discard(offset: Int(offset), length: Int(length)) }
        case cfuse_falloc_fl_zero_range, cfuse_falloc_fl_zero_range | keepSize:
            try imageCall { () throws(ImageError) in try device.writeZeros(offset: Int(offset), length: Int(length)) }
        default:
            throw SystemError(EOPNOTSUPP)
        }
        fuse_reply_err(req, 0)
    }

    /// The statistics of the file system holding the image.
    func statfs(_ req: fuse_req_t) throws(SystemError) {
        var info = try imageCall { () throws(ImageError) in try device.fileSystemStatus() }
        fuse_reply_statfs(req, &info)
    }

    /// ".", ".." and the device file.
    func readdir(_ req: fuse_req_t, _ node: fuse_ino_t, _ size: Int, _ offset: off_t) throws(SystemError) {
        guard node == Self.rootNode else { throw SystemError(ENOTDIR) }
        let entries: [(String, fuse_ino_t, mode_t)] = [(".", Self.rootNode, S_IFDIR), ("..", Self.rootNode, S_IFDIR),
                                                       (Self.deviceName, Self.deviceNode, S_IFREG)]
        try withReplyBuffer(size) { buffer throws(SystemError) in
            var used = 0
            for index in Int(offset)..<max(Int(offset), entries.count) {
                var st = stat()
                st.st_ino = ino_t(entries[index].1)
                st.st_mode = entries[index].2
                let room = buffer.count - used
                let needed = fuse_add_direntry(req, buffer.baseAddress! + used, room, entries[index].0, &st, off_t(index + 1))
                guard needed <= room else { break }
                used += needed
            }
            fuse_reply_buf(req, buffer.baseAddress, used)
        }
    }
}
