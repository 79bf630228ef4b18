import Glibc

/// An open image file: positioned reads and writes that retry short counts
/// and EINTR, with errors that name the path. It owns the descriptor when
/// it opened it, and only then closes it.
public final class LUKS2ImageFile {
    public let path: String
    public let descriptor: Int32
    private let ownsDescriptor: Bool

    /// Opens `path` read-only or read-write.
    public init(path: String, writable: Bool) throws(LUKS2Error) {
        let fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        self.path = path
        descriptor = fd
        ownsDescriptor = true
    }

    /// Uses a descriptor the caller opened and keeps open; `path` is for messages.
    public init(descriptor: Int32, path: String) {
        self.path = path
        self.descriptor = descriptor
        ownsDescriptor = false
    }

    /// Creates a new file; fails if it exists.
    static func create(path: String) throws(LUKS2Error) -> LUKS2ImageFile {
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw .imageExists(path: path) }
            throw .io(path: path, operation: "create", errno: errno)
        }
        close(fd)
        return try LUKS2ImageFile(path: path, writable: true)
    }

    deinit { if ownsDescriptor { close(descriptor) } }

    /// Reads `count` bytes at `offset`; fewer at end of file.
    func read(count: Int, at offset: Int) throws(LUKS2Error) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let got = try bytes.withMutableBytes { (buffer) throws(LUKS2Error) in try read(into: buffer, at: offset) }
        return Array(bytes.prefix(got))
    }

    /// Fills `buffer` from `offset` (a secret buffer, say); returns the bytes read.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(LUKS2Error) -> Int {
        var done = 0
        while done < buffer.count {
            let got = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if got == 0 { break }
            if got < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "read", errno: errno)
            }
            done += got
        }
        return done
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(LUKS2Error) {
        var done = 0
        while done < bytes.count {
            let wrote = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if wrote < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "write", errno: errno)
            }
            done += wrote
        }
    }

    func write(_ bytes: [UInt8], at offset: Int) throws(LUKS2Error) {
        try bytes.withBytes { (buffer) throws(LUKS2Error) in try write(buffer, at: offset) }
    }

    /// Makes what was written durable before the next step depends on it.
    func sync() throws(LUKS2Error) {
        guard fsync(descriptor) == 0 else { throw .io(path: path, operation: "fsync", errno: errno) }
    }

    /// Runs `body` holding flock(LOCK_EX) on the image, so that two klfs
    /// processes changing the same header take turns.
    func withExclusiveLock<R>(_ body: () throws(LUKS2Error) -> R) throws(LUKS2Error) -> R {
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw .io(path: path, operation: "lock", errno: errno) }
        }
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }

    func setSize(_ size: Int) throws(LUKS2Error) {
        guard ftruncate(descriptor, off_t(size)) == 0 else { throw .io(path: path, operation: "resize", errno: errno) }
    }
}
