import Glibc

/// One buffer per thread and per use, so the data path does not allocate
/// per request: FUSE serves requests from a small pool of worker threads,
/// and a call never outlives its thread's use of the buffer. Buffers hold
/// file contents (ciphertext, or plaintext of requests), never key material.
public final class PerThreadBuffer: @unchecked Sendable {
    public let capacity: Int
    private let key: pthread_key_t

    public init(capacity: Int) {
        self.capacity = capacity
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { free($0) }
        precondition(status == 0, "pthread_key_create failed: \(status)")
        self.key = key
    }

    /// The calling thread's buffer, ``capacity`` bytes, page-aligned.
    public var buffer: UnsafeMutableRawBufferPointer {
        if let existing = pthread_getspecific(key) {
            return UnsafeMutableRawBufferPointer(start: existing, count: capacity)
        }
        var memory: UnsafeMutableRawPointer?
        let status = posix_memalign(&memory, 4096, capacity)
        precondition(status == 0, "out of memory for a per-thread buffer")
        pthread_setspecific(key, memory)
        return UnsafeMutableRawBufferPointer(start: memory, count: capacity)
    }
}

/// The sectors a CipherFile call has in flight.
enum SectorScratch {
    /// Large requests are processed in chunks of this many bytes.
    static let capacity = 256 * 1024
    private static let buffers = PerThreadBuffer(capacity: capacity)

    static var buffer: UnsafeMutableRawBufferPointer { buffers.buffer }
}
