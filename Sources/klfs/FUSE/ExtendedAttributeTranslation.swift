import CFuse
import Glibc
import KLBlock

/// Extended attribute names and values in the mount to those on the
/// backing files and back: on a version 2 volume through KLBlock's
/// ``ExtendedAttributeCipher`` (FORMAT.md, "Extended attributes"), on a
/// version 1 volume the identity. Here each refusal becomes its errno, and
/// a backing entry that does not decrypt gets one log line.
final class ExtendedAttributeTranslation: Sendable {
    private let cipher: ExtendedAttributeCipher?
    private let log = OnceLog<String>()

    init(volume: UnlockedVolume) {
        cipher = volume.extendedAttributeCipher
    }

    /// The backing name (NUL-terminated) of `name`. A name outside `user.`
    /// is refused with `otherNamespace`: setxattr says EOPNOTSUPP, getxattr
    /// and removexattr ENODATA, as for an attribute that is not there.
    func backingName(_ name: UnsafePointer<CChar>, otherNamespace: Int32) throws(SystemError) -> [CChar] {
        guard let cipher else { return cString(name) }
        let bytes = Array(UnsafeRawBufferPointer(start: name, count: strlen(name)))
        do throws(ExtendedAttributeError) {
            return try cipher.encryptName(bytes).map { CChar(bitPattern: $0) } + [0]
        } catch .otherNamespace {
            throw SystemError(otherNamespace)
        } catch {
            throw systemError(error)
        }
    }

    /// The backing value of the `size` bytes at `value`.
    func backingValue(_ value: UnsafePointer<CChar>?, size: Int) throws(SystemError) -> [UInt8] {
        let bytes = Array(UnsafeRawBufferPointer(start: value, count: value == nil ? 0 : size))
        guard let cipher else { return bytes }
        do throws(ExtendedAttributeError) {
            return try cipher.encryptValue(bytes)
        } catch {
            throw systemError(error)
        }
    }

    /// The plaintext of `stored`, the value of the backing attribute
    /// `backingName` of `inode`; EIO, logged once, when it does not decrypt.
    func value(of stored: [UInt8], named backingName: [CChar], of inode: Inode) throws(SystemError) -> [UInt8] {
        guard let cipher else { return stored }
        do throws(ExtendedAttributeError) {
            return try cipher.decryptValue(stored)
        } catch {
            if case .engine(let engineError) = error, engineError.meansVolumeLocked { throw .keysRevoked }
            let name = backingName.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            logOnce(inode, name, "\(error); getxattr gives EIO")
            throw SystemError(EIO)
        }
    }

    /// The plaintext name list (each name NUL-terminated) behind `stored`,
    /// the backing list of `inode`. Names that do not decrypt (other
    /// namespaces, foreign or altered names) are left out, logged once each;
    /// on a locked volume the list fails instead of coming back short.
    func list(of stored: [UInt8], of inode: Inode) throws(SystemError) -> [UInt8] {
        guard let cipher else { return stored }
        var list: [UInt8] = []
        for backing in stored.split(separator: 0) {
            do throws(ExtendedAttributeError) {
                list += try cipher.decryptName(Array(backing)) + [0]
            } catch {
                if case .engine(let engineError) = error, engineError.meansVolumeLocked { throw .keysRevoked }
                logOnce(inode, String(decoding: backing, as: UTF8.self), "\(error); not listed")
            }
        }
        return list
    }

    private func systemError(_ error: ExtendedAttributeError) -> SystemError {
        switch error {
        case .emptyName: return SystemError(EINVAL)
        case .nameTooLong: return SystemError(ERANGE)
        case .valueTooLarge: return SystemError(E2BIG)
        case .engine(let engineError) where engineError.meansVolumeLocked: return .keysRevoked
        case .otherNamespace, .invalid, .engine: return SystemError(EIO)
        }
    }

    /// One log line per bad backing attribute per mount.
    private func logOnce(_ inode: Inode, _ name: String, _ why: String) {
        log.error("\(inode.backing.inode)/\(name)",
                  "klfs: extended attribute \(name) of backing file inode \(inode.backing.inode): \(why)")
    }
}
