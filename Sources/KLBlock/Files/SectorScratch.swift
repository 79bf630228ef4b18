import Glibc

/// One buffer per thread for sectors in flight, so the data path does not
/// allocate per request: FUSE serves requests from a small pool of worker
/// threads, and a call never outlives its thread's use of the buffer.
///
/// It holds ciphertext, or plaintext of partial sectors: file contents,
/// never key material.
enum SectorScratch {
    /// Large requests are processed in chunks of this many bytes.
    static let capacity = 256 * 1024

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { free($0) }
        precondition(status == 0, "pthread_key_create failed: \(status)")
        return key
    }()

    /// The calling thread's buffer, ``capacity`` bytes, page-aligned.
    static var buffer: UnsafeMutableRawBufferPointer {
        if let existing = pthread_getspecific(key) {
            return UnsafeMutableRawBufferPointer(start: existing, count: capacity)
        }
        var memory: UnsafeMutableRawPointer?
        let status = posix_memalign(&memory, 4096, capacity)
        precondition(status == 0, "out of memory for a sector buffer")
        pthread_setspecific(key, memory)
        return UnsafeMutableRawBufferPointer(start: memory, count: capacity)
    }
}
