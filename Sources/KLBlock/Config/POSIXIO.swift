import Glibc

/// read(2) and write(2) loops that retry on EINTR and short counts. They
/// work on raw buffers so that secret bytes never pass through a Swift
/// collection.
enum POSIXIO {
    /// Reads until `buffer` is full or end of file; returns the bytes read,
    /// or -errno.
    static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        fill(buffer.count) { done in read(fd, buffer.baseAddress! + done, buffer.count - done) }
    }

    /// Reads one byte; 1, 0 at end of file, or -errno.
    static func readByte(_ fd: Int32, into byte: UnsafeMutableRawPointer) -> Int {
        while true {
            let got = read(fd, byte, 1)
            if got >= 0 { return got }
            if errno != EINTR { return -Int(errno) }
        }
    }

    /// Writes all of `bytes`; 0 or errno.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        var done = 0
        while done < bytes.count {
            let wrote = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if wrote < 0 {
                if errno == EINTR { continue }
                return errno
            }
            done += wrote
        }
        return 0
    }

    /// pread(2) until `buffer` is full or end of file; the bytes read, or -errno.
    static func preadFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        fill(buffer.count) { done in pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done)) }
    }

    /// Calls `readMore(bytesSoFar)` until `count` bytes came or it returns
    /// 0 (end of file); retries EINTR. The count, or -errno.
    private static func fill(_ count: Int, _ readMore: (Int) -> Int) -> Int {
        var done = 0
        while done < count {
            let got = readMore(done)
            if got == 0 { break }
            if got < 0 {
                if errno == EINTR { continue }
                return -Int(errno)
            }
            done += got
        }
        return done
    }

    /// pwrite(2) all of `bytes` at `offset`; 0 or errno (EIO when the
    /// kernel writes nothing and reports no error).
    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int) -> Int32 {
        var done = 0
        while done < bytes.count {
            let wrote = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if wrote == 0 { return EIO }
            if wrote < 0 {
                if errno == EINTR { continue }
                return errno
            }
            done += wrote
        }
        return 0
    }
}
