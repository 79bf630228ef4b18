import Glibc

/// read(2) and write(2) loops that retry on EINTR and short counts. They
/// work on raw buffers so that secret bytes never pass through a Swift
/// collection.
enum POSIXIO {
    /// Reads until `buffer` is full or end of file; returns the bytes read,
    /// or -errno.
    static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var done = 0
        while done < buffer.count {
            let got = read(fd, buffer.baseAddress! + done, buffer.count - done)
            if got == 0 { break }
            if got < 0 {
                if errno == EINTR { continue }
                return -Int(errno)
            }
            done += got
        }
        return done
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
}
