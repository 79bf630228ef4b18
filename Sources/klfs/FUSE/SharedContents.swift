import Foundation
import Glibc
import KLBlock

/// The ``CipherFile`` of one regular file, shared by all its open handles
/// so that its per-file lock orders every writer; it exists while at least
/// one handle (or a truncate) uses it.
final class SharedContents: @unchecked Sendable {
    private let lock = NSLock()
    private var file: CipherFile?
    private var descriptor: Int32 = -1
    private var users = 0

    /// The open file's plaintext size, nil when nobody has it open.
    var sizeIfOpen: Int? {
        lock.withLock { file?.size }
    }

    /// Counts one more user, opening the file for the first one with
    /// `open`, which returns the backing descriptor and the file over it.
    func acquire(_ open: () throws(SystemError) -> (Int32, CipherFile)) throws(SystemError) -> CipherFile {
        lock.lock()
        defer { lock.unlock() }
        if let file {
            users += 1
            return file
        }
        let (fd, opened) = try open()
        descriptor = fd
        file = opened
        users = 1
        return opened
    }

    /// The last user closes the backing descriptor.
    func release() {
        lock.withLock {
            users -= 1
            if users == 0 {
                file = nil
                close(descriptor)
                descriptor = -1
            }
        }
    }
}
