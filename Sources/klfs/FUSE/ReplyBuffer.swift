import KLBlock

/// Runs `body` with `size` bytes to build a reply in (read data, a
/// directory listing): the worker thread's own buffer, so that no request
/// allocates; the kernel asks for at most 1 MiB (max_pages), and a larger
/// request would get a buffer of its own.
func withReplyBuffer<R>(_ size: Int,
                        _ body: (UnsafeMutableRawBufferPointer) throws(SystemError) -> R) throws(SystemError) -> R {
    let large = size > replyBuffers.capacity
        ? UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64) : nil
    defer { large?.deallocate() }
    return try body(UnsafeMutableRawBufferPointer(rebasing: (large ?? replyBuffers.buffer)[0..<size]))
}

private let replyBuffers = PerThreadBuffer(capacity: 1 << 20)
