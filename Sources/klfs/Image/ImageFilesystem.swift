import CFuse
import Glibc
import KLBlock

/// The file system of an image mount: a directory holding one regular
/// file, ``deviceName``, whose contents are the image's plaintext device.
/// Two inodes, no names to translate, no per-file state: everything a
/// request needs is the ``PlaintextDevice``.
final class ImageFilesystem: ServedFilesystem, @unchecked Sendable {
    /// The plaintext file's name in the mount point.
    static let deviceName = "device"
    static let rootNode: fuse_ino_t = 1  // FUSE_ROOT_ID
    static let deviceNode: fuse_ino_t = 2

    let device: PlaintextDevice
    let statistics: OperationStatistics
    let readOnly: Bool
    /// Seconds the kernel may cache the entry and attributes: short, since
    /// the image may grow under the mount (the device grows with it).
    let attributeTimeout = 1.0

    init(device: PlaintextDevice, statistics: OperationStatistics) {
        self.device = device
        self.statistics = statistics
        readOnly = device.readOnly
    }

    /// The attributes of `node`: owner and times are the image's, the
    /// device file's size the plaintext device's, its blocks the image's
    /// (so holes that discards punched show), its mode the image's
    /// permission bits.
    func attributes(of node: fuse_ino_t) throws(SystemError) -> stat {
        let status = try imageCall { () throws(ImageError) in try device.imageStatus() }
        var st = status.image
        switch node {
        case Self.rootNode:
            st.st_mode = S_IFDIR | 0o755
            st.st_nlink = 2
            st.st_size = 0
        case Self.deviceNode:
            st.st_mode = S_IFREG | (st.st_mode & 0o666)
            st.st_nlink = 1
            st.st_size = off_t(status.deviceSize)
        default:
            throw SystemError(ENOENT)
        }
        st.st_ino = ino_t(node)
        st.st_blksize = 4096
        return st
    }
}

/// Runs a device call; its error becomes the errno the request answers
/// with (ImageError.errno).
func imageCall<R>(_ body: () throws(ImageError) -> R) throws(SystemError) -> R {
    do throws(ImageError) { return try body() } catch { throw SystemError(error.errno) }
}

/// Runs a request handler of the image's file system.
func respondImage(_ req: fuse_req_t?, _ operation: CountedOperation,
                  _ handler: (ImageFilesystem, fuse_req_t) throws(SystemError) -> Void) {
    serve(req, operation, handler)
}
