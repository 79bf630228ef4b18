import Glibc

/// The system calls a ``CipherFile`` makes on its backing file: positioned
/// I/O on a plain descriptor, retried on EINTR and short transfers.
struct BackingDescriptor: Sendable {
    let fd: Int32

    /// Reads until `buffer` is full or the file ends; returns the bytes read.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(CipherFileError) -> Int {
        let done = POSIXIO.preadFully(fd, into: buffer, at: offset)
        guard done >= 0 else { throw .system(call: "pread", errno: Int32(-done)) }
        return done
    }

    /// Reads `buffer.count` bytes; what lies beyond the end of the file
    /// reads as zeros, as a hole would.
    func readZeroFilled(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(CipherFileError) {
        let done = try read(into: buffer, at: offset)
        if done < buffer.count {
            (buffer.baseAddress! + done).initializeMemory(as: UInt8.self, repeating: 0, count: buffer.count - done)
        }
    }

    func write(_ buffer: UnsafeRawBufferPointer, at offset: Int) throws(CipherFileError) {
        let status = POSIXIO.pwriteAll(fd, buffer, at: offset)
        guard status == 0 else { throw .system(call: "pwrite", errno: status) }
    }

    func length() throws(CipherFileError) -> Int {
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .system(call: "fstat", errno: errno) }
        return Int(status.st_size)
    }

    /// Growing leaves a hole; no data block is written.
    func setLength(_ length: Int) throws(CipherFileError) {
        while ftruncate(fd, off_t(length)) != 0 {
            guard errno == EINTR else { throw .system(call: "ftruncate", errno: errno) }
        }
    }

    /// posix_fallocate: where the filesystem cannot allocate (EOPNOTSUPP),
    /// glibc writes a zero into every block of the range that reads as
    /// zero, which allocates as surely.
    func allocate(_ range: Range<Int>) throws(CipherFileError) {
        var status: Int32
        repeat {
            status = posix_fallocate(fd, off_t(range.lowerBound), off_t(range.count))
        } while status == EINTR
        guard status == 0 else { throw .system(call: "posix_fallocate", errno: status) }
    }

    func sync() throws(CipherFileError) {
        while fsync(fd) != 0 {
            guard errno == EINTR else { throw .system(call: "fsync", errno: errno) }
        }
    }

    /// With O_APPEND, Linux pwrite ignores its offset and appends, which
    /// would put sectors in the wrong place.
    func requirePositionedWrites() throws(CipherFileError) {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0 else { throw .system(call: "fcntl", errno: errno) }
        guard flags & O_APPEND == 0 else { throw .system(call: "O_APPEND backing descriptor", errno: EINVAL) }
    }
}
