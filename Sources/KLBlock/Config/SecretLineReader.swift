import Glibc
import KLEngine

/// Reads the first line of a descriptor straight into secret memory, one
/// byte at a time, so the passphrase never sits in a Swift collection or
/// in a stdio buffer.
struct SecretLineReader {
    /// Longer input is refused rather than silently cut.
    static let maximumLength = 4096

    /// How a read(2) failure is reported for this source.
    let readFailure: (Int32) -> VolumeError

    /// The bytes before the first "\n" (or end of file), in a secret of
    /// exactly that size, owned by the caller. With `drain`, the rest of
    /// the input is read and discarded too, so a writer on a pipe never
    /// meets SIGPIPE.
    func readLine(from fd: Int32, drain: Bool = false) throws(VolumeError) -> SecretBytes {
        // One spare byte shows that the line went past the limit.
        let buffer = try engineCall { () throws(EngineError) in try SecretBytes(count: Self.maximumLength + 1) }
        // Every byte that was read dies here, on every path.
        defer { buffer.wipe() }
        let line = Result { () throws(VolumeError) in try copyLine(from: fd, using: buffer) }
        if drain { buffer.withUnsafeMutableBytes { discardRest(fd, using: $0) } }
        return try line.get()
    }

    private func copyLine(from fd: Int32, using buffer: SecretBytes) throws(VolumeError) -> SecretBytes {
        let length = try buffer.withUnsafeMutableBytes { bytes throws(VolumeError) in
            try readUntilNewline(fd, into: bytes)
        }
        guard length <= Self.maximumLength else { throw .passphraseTooLong(limit: Self.maximumLength) }
        guard length > 0 else { throw .emptyPassphrase }
        return try engineCall { () throws(EngineError) in
            try buffer.withUnsafeBytes { bytes throws(EngineError) in
                try SecretBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[..<length]))
            }
        }
    }

    /// The line's length; `bytes.count` when no newline came in time.
    private func readUntilNewline(_ fd: Int32, into bytes: UnsafeMutableRawBufferPointer) throws(VolumeError) -> Int {
        var length = 0
        while length < bytes.count {
            let got = POSIXIO.readByte(fd, into: bytes.baseAddress! + length)
            if got < 0 { throw readFailure(Int32(-got)) }
            if got == 0 || bytes[length] == 0x0A { break }
            length += 1
        }
        return length
    }

    /// Stops quietly at end of file or at an error: draining only spares
    /// the writer, it never changes the outcome.
    private func discardRest(_ fd: Int32, using scratch: UnsafeMutableRawBufferPointer) {
        while POSIXIO.readFully(fd, into: scratch) == scratch.count {}
    }
}
