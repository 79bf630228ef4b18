import CFuse
import Foundation
import Glibc
import KLBlock
import KLEngine

/// A name as the backing directory stores it: the encoded (or, on a
/// plaintext-names volume, the given) name, and for a long name the full
/// encoded name its sidecar holds. Names are bytes, not necessarily UTF-8,
/// so they stay NUL-terminated C strings.
struct BackingName {
    let name: [CChar]
    /// The hashed name and the full encoded name, for a long name.
    let longName: (hashed: String, encoded: String)?

    init(_ name: UnsafePointer<CChar>) {
        self.name = cString(name)
        longName = nil
    }

    /// An encoded name, hashed when it is too long for the backing filesystem.
    init(encoded: String) {
        if encoded.utf8.count > LongName.maxBackingLength {
            let hashed = LongName.hashedName(of: encoded)
            name = Array(hashed.utf8CString)
            longName = (hashed, encoded)
        } else {
            name = Array(encoded.utf8CString)
            longName = nil
        }
    }
}

/// A NUL-terminated copy of a C string.
func cString(_ pointer: UnsafePointer<CChar>) -> [CChar] {
    Array(UnsafeBufferPointer(start: pointer, count: strlen(pointer) + 1))
}

/// Plaintext names in the mount to names in the backing dir and back, for
/// a volume with encrypted names (FORMAT.md, "Names"), or the identity on a
/// plaintext-names volume. Every FUSE operation that takes or lists a name
/// goes through here; the crypto itself is KLBlock's ``NameCipher``.
///
/// Directory IVs are cached by node ID (never reused within a mount, so a
/// cached IV can never belong to another directory); a directory's IV
/// never changes.
final class NameTranslation: @unchecked Sendable {
    private let cipher: NameCipher?
    private let contentsKey: any XTSKey
    private let lock = NSLock()
    private var ivCache: [fuse_ino_t: [UInt8]] = [:]
    private let log = OnceLog<String>()
    private static let ivCacheLimit = 4096
    /// A root daemon hands each metadata file to the owner of its directory.
    private let runsAsRoot: Bool

    init(volume: UnlockedVolume, runsAsRoot: Bool) {
        cipher = volume.names
        contentsKey = volume.key
        self.runsAsRoot = runsAsRoot
    }

    var encrypts: Bool { cipher != nil }

    /// The backing name of `name` in `directory`.
    func backingName(_ name: UnsafePointer<CChar>, in directory: Inode) throws(SystemError) -> BackingName {
        guard let cipher else { return BackingName(name) }
        let iv = try directoryIV(of: directory)
        let encoded: String
        do throws(NameError) {
            encoded = try cipher.encrypt(UnsafeRawBufferPointer(start: name, count: strlen(name)), directoryIV: iv)
        } catch {
            throw systemError(error)
        }
        return BackingName(encoded: encoded)
    }

    /// The plaintext name (NUL-terminated) of the backing entry `name` in
    /// `directory`, or nil when the mount does not show it: klfs's own
    /// files (`klfs.*`) silently, anything that does not decrypt with one
    /// log line. Throws only when the volume is locked, so that a listing
    /// fails rather than shows nothing.
    func plaintextName(_ name: UnsafePointer<CChar>, in directory: Inode) throws(SystemError) -> [CChar]? {
        guard let cipher, strcmp(name, ".") != 0, strcmp(name, "..") != 0 else { return cString(name) }
        let backing = String(cString: name)
        let encoded: String
        if LongName.isHashedName(backing) {
            guard let directoryFD = try? directory.fd, let full = LongName.readSidecar(for: backing, in: directoryFD) else {
                logOnce(directory, backing, "long name without a matching sidecar; not listed")
                return nil
            }
            encoded = full
        } else if backing.hasPrefix("klfs.") {
            return nil
        } else {
            encoded = backing
        }
        do throws(NameError) {
            let iv: [UInt8]
            do throws(SystemError) { iv = try directoryIV(of: directory) } catch { return nil }
            return try cipher.decrypt(encoded.utf8, directoryIV: iv).map { CChar(bitPattern: $0) } + [0]
        } catch {
            if case .engine(let engineError) = error, engineError.meansVolumeLocked { throw .keysRevoked }
            logOnce(directory, backing, "\(error); not listed")
            return nil
        }
    }

    /// Runs `body`, which makes the entry `backing` in `directory`, with
    /// the long name's sidecar written first (so a crash leaves an unused
    /// sidecar, never an entry without one) and removed again if `body`
    /// fails and the sidecar was new.
    @discardableResult
    func creating<R>(_ backing: BackingName, in directory: Inode,
                     _ body: () throws(SystemError) -> R) throws(SystemError) -> R {
        let created = try writeSidecar(of: backing, in: directory)
        do {
            return try body()
        } catch {
            if created { removeSidecar(of: backing, in: directory) }
            throw error
        }
    }

    /// After the entry `backing` left `directory` (unlink, rmdir, rename
    /// away): its sidecar goes too, unless the name is still there (rename
    /// between two hard links of one file changes nothing).
    func removed(_ backing: BackingName, in directory: Inode) {
        guard backing.longName != nil else { return }
        var st = stat()
        guard let directoryFD = try? directory.fd else { return }
        if fstatat(directoryFD, backing.name, &st, AT_SYMLINK_NOFOLLOW) == 0 { return }
        removeSidecar(of: backing, in: directory)
    }

    /// The target a symlink stores for `target`.
    func backingTarget(_ target: UnsafePointer<CChar>) throws(SystemError) -> [CChar] {
        guard encrypts else { return cString(target) }
        let bytes = Array(UnsafeBufferPointer(start: UnsafeRawPointer(target).assumingMemoryBound(to: UInt8.self),
                                              count: strlen(target)))
        do throws(NameError) {
            return Array(try SymlinkTarget.encrypt(bytes, key: contentsKey).utf8CString)
        } catch {
            throw systemError(error)
        }
    }

    /// The plaintext target of the symlink `inode`.
    func target(of inode: Inode) throws(SystemError) -> [UInt8] {
        var stored = [UInt8](repeating: 0, count: Int(PATH_MAX))
        let length = try checked(readlinkat(try inode.fd, "", &stored, stored.count))
        stored.removeSubrange(length...)
        guard encrypts else { return stored }
        do throws(NameError) {
            return try SymlinkTarget.decrypt(stored, key: contentsKey)
        } catch {
            if case .engine(let engineError) = error, engineError.meansVolumeLocked { throw .keysRevoked }
            logOnce(inode, "symlink", "\(error)")
            throw SystemError(EIO)
        }
    }

    // MARK: Directory IVs

    /// The IV of `directory`, read once per node.
    func directoryIV(of directory: Inode) throws(SystemError) -> [UInt8] {
        if let iv = lock.withLock({ ivCache[directory.nodeID] }) { return iv }
        switch DirectoryIV.read(in: try directory.fd) {
        case .success(let iv):
            lock.withLock {
                if ivCache.count >= Self.ivCacheLimit { ivCache.removeAll() }
                ivCache[directory.nodeID] = iv
            }
            return iv
        case .failure(let error):
            logOnce(directory, DirectoryIV.fileName, "unreadable (\(String(cString: strerror(error.errno)))); names in this directory give EIO")
            throw SystemError(EIO)
        }
    }

    /// mkdir: the new directory `backing` in `parent`, with its IV, made by
    /// `creator` (a root daemon's runs it with the caller's credentials).
    /// It is made with owner rwx, which writing the IV needs (the caller
    /// has no root's rights), and given the owner bits of `mode` after by
    /// the daemon: a caller outside the directory's group would lose the
    /// set-group-ID bit it inherited, where mkdir keeps it.
    func makeDirectory(_ backing: [CChar], mode: mode_t, in parent: Inode,
                       by creator: (() throws(SystemError) -> Int32) throws(SystemError) -> Int32) throws(SystemError) {
        let parentFD = try parent.fd
        guard encrypts else {
            _ = try creator { () throws(SystemError) in try checked(mkdirat(parentFD, backing, mode)) }
            return
        }
        let fd = try creator { () throws(SystemError) in
            try checked(mkdirat(parentFD, backing, mode | S_IRWXU))
            let fd = openat(parentFD, backing, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let status = fd >= 0 ? DirectoryIV.write(DirectoryIV.random(), in: fd) : errno
            guard status == 0 else {
                if fd >= 0 { close(fd) }
                unlinkat(parentFD, backing, AT_REMOVEDIR)
                throw SystemError(status)
            }
            return fd
        }
        defer { close(fd) }
        guard mode & S_IRWXU != S_IRWXU else { return }
        let status = takeOwnerBits(of: mode, fd)
        if status != 0 {
            unlinkat(fd, DirectoryIV.fileName, 0)
            unlinkat(parentFD, backing, AT_REMOVEDIR)
            throw SystemError(status)
        }
    }

    /// The directory `fd` gets the owner bits of `mode` and keeps the rest
    /// of its own (a set-group-ID bit it inherited among them); 0 or errno.
    private func takeOwnerBits(of mode: mode_t, _ fd: Int32) -> Int32 {
        var st = stat()
        guard fstat(fd, &st) == 0,
              fchmod(fd, st.st_mode & 0o7777 & ~S_IRWXU | mode & S_IRWXU) == 0 else { return errno }
        return 0
    }

    /// rmdir: a directory holding nothing but its IV file counts as empty.
    /// The IV goes first, and comes back if the directory cannot go. The
    /// removed directory gets back the mtime it had before its IV went, as
    /// rmdir changes only its ctime (seen through a descriptor still open
    /// on it); a best effort, as the directory is gone either way.
    func removeDirectory(_ backing: [CChar], in parent: Inode) throws(SystemError) {
        let parentFD = try parent.fd
        guard encrypts else {
            try checked(unlinkat(parentFD, backing, AT_REMOVEDIR))
            return
        }
        let fd = try checked(openat(parentFD, backing, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC))
        defer { close(fd) }
        try requireOnlyIV(fd)
        let before = try backingAttributes(fd)
        let iv = try? DirectoryIV.read(in: fd).get()
        if unlinkat(fd, DirectoryIV.fileName, 0) != 0 && errno != ENOENT { throw SystemError.current }
        if unlinkat(parentFD, backing, AT_REMOVEDIR) != 0 {
            let error = SystemError.current
            if let iv { _ = DirectoryIV.write(iv, in: fd) }
            throw error
        }
        var times = [timespec(tv_sec: 0, tv_nsec: cfuse_utime_omit), before.st_mtim]
        futimens(fd, &times)
    }

    /// rename of `source` in `from` to `target` in `to` (flags: 0 or
    /// RENAME_NOREPLACE). A directory replacing an empty one needs more
    /// than renameat2 on an encrypted-names volume, where the empty target
    /// still holds its IV (ENOTEMPTY): the two swap places in one step
    /// (RENAME_EXCHANGE), so the target name never goes missing, and the
    /// old target, now at the source's name, goes as rmdir removes a
    /// directory. If it cannot go, they swap back. A crash in between
    /// leaves it at the source's name (docs/FUSE.md, "Replacing an empty
    /// directory"). The kernel holds both directories locked for the whole
    /// request, so no create through the mount can slip into the target.
    func rename(_ source: [CChar], in from: Inode, to target: [CChar], in to: Inode,
                flags: UInt32) throws(SystemError) {
        let fromFD = try from.fd, toFD = try to.fd
        if cfuse_renameat2(fromFD, source, toFD, target, flags) == 0 { return }
        let failure = SystemError.current
        guard encrypts, failure.code == ENOTEMPTY else { throw failure }
        let fd = try checked(openat(toFD, target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC))
        defer { close(fd) }
        try requireOnlyIV(fd)
        try checked(cfuse_renameat2(fromFD, source, toFD, target, cfuse_rename_exchange))
        do {
            try removeDirectory(source, in: from)
        } catch {
            cfuse_renameat2(fromFD, source, toFD, target, cfuse_rename_exchange)
            throw error
        }
    }

    private func requireOnlyIV(_ fd: Int32) throws(SystemError) {
        let listing = try DirectoryStream(fd)
        while let name = listing.nextName() {
            if name != "." && name != ".." && name != DirectoryIV.fileName { throw SystemError(ENOTEMPTY) }
        }
    }

    // MARK: Long-name sidecars

    /// True when this call made the sidecar (false: not a long name, or
    /// the sidecar was there already, holding the same name).
    private func writeSidecar(of backing: BackingName, in directory: Inode) throws(SystemError) -> Bool {
        guard let longName = backing.longName else { return false }
        switch LongName.writeSidecar(longName.encoded, for: longName.hashed, in: try directory.fd) {
        case 0:
            do throws(SystemError) {
                try ownLikeDirectory(LongName.sidecarName(of: longName.hashed), in: directory)
            } catch {
                removeSidecar(of: backing, in: directory)
                throw error
            }
            return true
        case EEXIST: return false
        case let status: throw SystemError(status)
        }
    }

    private func removeSidecar(of backing: BackingName, in directory: Inode) {
        guard let longName = backing.longName else { return }
        guard let directoryFD = try? directory.fd else { return }
        unlinkat(directoryFD, LongName.sidecarName(of: longName.hashed), 0)
    }

    // MARK: Ownership

    /// Metadata files (the IV, long-name sidecars) belong to the owner and
    /// group of the directory that holds them, so that whoever owns a
    /// directory can read them on a mount of their own, without root. A
    /// root daemon writes sidecars as itself and hands them over; it makes
    /// IVs with the credentials of the directory's creator already.
    private func ownLikeDirectory(_ name: String, in directory: Inode) throws(SystemError) {
        guard runsAsRoot else { return }
        let directoryFD = try directory.fd
        let st = try backingAttributes(directoryFD)
        try checked(fchownat(directoryFD, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW))
    }

    /// After `directory` changed owner or group (chown by a root daemon,
    /// such as `tar -x` restoring owners): its metadata files follow.
    func ownerChanged(of directory: Inode) throws(SystemError) {
        guard runsAsRoot, encrypts else { return }
        let listing = try DirectoryStream(try directory.fd)
        while let name = listing.nextName() {
            if name == DirectoryIV.fileName || LongName.isSidecar(name) { try ownLikeDirectory(name, in: directory) }
        }
    }

    // MARK: Errors and the log

    private func systemError(_ error: NameError) -> SystemError {
        switch error {
        case .nameTooLong: return SystemError(ENAMETOOLONG)
        case .engine(let engineError) where engineError.meansVolumeLocked: return .keysRevoked
        case .invalid, .engine: return SystemError(EIO)
        }
    }

    /// One log line per bad name per mount, however often it is listed.
    private func logOnce(_ directory: Inode, _ name: String, _ why: String) {
        log.error("\(directory.backing.inode)/\(name)",
                  "klfs: \(name) in backing directory inode \(directory.backing.inode): \(why)")
    }
}
