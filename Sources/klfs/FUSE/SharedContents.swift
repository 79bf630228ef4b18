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
    /// The size the last user left, or that a header read found: every
    /// change goes through this mount (docs/FUSE.md, "Caching"), so getattr
    /// need not open the backing file again.
    private var sizeWhenClosed: KnownSize?

    /// The plaintext size: the open file's, else the last one known, else
    /// what `readHeader` finds (nil for a damaged file, which is not kept).
    /// The header is read under the lock, so that a user who opens, changes
    /// and closes the file meanwhile cannot have its size overwritten.
    func size(readingHeaderWith readHeader: () -> KnownSize?) -> Int? {
        lock.withLock {
            if let file { return file.size }
            if sizeWhenClosed == nil { sizeWhenClosed = readHeader() }
            return sizeWhenClosed?.size
        }
    }

    /// The size while nobody has the file open, if known without reading
    /// the header.
    var sizeWhileClosed: KnownSize? {
        lock.withLock { file == nil ? sizeWhenClosed : nil }
    }

    /// The backing file's attributes while a user has it open: an open
    /// file's need no O_PATH descriptor, which a file opened by name lacks
    /// and which its deletion underneath the mount would leave nothing to
    /// reopen by.
    var attributesWhileOpen: stat? {
        lock.withLock {
            var st = stat()
            guard file != nil, fstat(descriptor, &st) == 0 else { return nil }
            return st
        }
    }

    /// Takes `known` as the size when closed, unless one is known already.
    func assume(_ known: KnownSize) {
        lock.withLock {
            if file == nil && sizeWhenClosed == nil { sizeWhenClosed = known }
        }
    }

    /// Runs `body` unless a user has the file open, and then the size is
    /// what `body` returns (for a file that lost its last name: 0).
    func whileUnused(_ body: () -> KnownSize?) {
        lock.withLock {
            guard file == nil else { return }
            sizeWhenClosed = body()
        }
    }

    /// Counts one more user, opening the file for the first one with
    /// `open`, which returns the backing descriptor and the file over it.
    /// A `writer` that finds the descriptor read-only (a reader opened it
    /// when a read-write open was refused, and the mode has changed since)
    /// has it upgraded with a read-write descriptor from `openWritable`.
    /// A user who finds the file open runs `joining` first, which may refuse.
    func acquire(writer: Bool, joining: () throws(SystemError) -> Void, openWritable: () throws(SystemError) -> Int32,
                 _ open: () throws(SystemError) -> (Int32, CipherFile)) throws(SystemError) -> CipherFile {
        lock.lock()
        defer { lock.unlock() }
        if let file {
            try joining()
            if writer && !descriptorIsWritable { try upgradeDescriptor(with: openWritable) }
            users += 1
            return file
        }
        let (fd, opened) = try open()
        descriptor = fd
        file = opened
        users = 1
        return opened
    }

    private var descriptorIsWritable: Bool {
        fcntl(descriptor, F_GETFL) & O_ACCMODE == O_RDWR
    }

    /// The read-write descriptor takes the read-only one's number (dup2),
    /// so the CipherFile and every handle keep using the number they
    /// hold, and calls already running on the old descriptor finish on it
    /// (the kernel keeps it open for them). dup2 clears close-on-exec,
    /// which goes back at once.
    private func upgradeDescriptor(with openWritable: () throws(SystemError) -> Int32) throws(SystemError) {
        let writable = try openWritable()
        defer { close(writable) }
        try checked(dup2(writable, descriptor))
        try checked(fcntl(descriptor, F_SETFD, FD_CLOEXEC))
    }

    /// The last user closes the backing descriptor, and runs `closed`
    /// before another user can open it again.
    func release(_ closed: () -> Void) {
        lock.withLock {
            users -= 1
            if users == 0 {
                closed()
                sizeWhenClosed = file.flatMap { KnownSize($0.size, descriptor: descriptor) }
                file = nil
                close(descriptor)
                descriptor = -1
            }
        }
    }
}
