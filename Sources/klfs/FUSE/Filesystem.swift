import CFuse
import Foundation
import Glibc
import KLBlock

/// The state every FUSE request handler works on: the inode table, the
/// volume's contents layer, the options. libfuse hands it back to each
/// request as the session's user data.
final class Filesystem: ServedFilesystem, @unchecked Sendable {
    let options: FilesystemOptions
    let inodes: InodeTable
    let volume: UnlockedVolume
    /// How the volume's regular files are encoded (sectors and headers).
    let fileFormat: CipherFileFormat
    /// Plaintext names to backing names and back (encrypted or as given).
    let names: NameTranslation
    /// Extended attribute names and values (encrypted or as given).
    let xattrs: ExtendedAttributeTranslation
    /// Whether the kernel caches writes (granted at INIT, before any other
    /// request arrives; read-only afterwards).
    var writebackCache = false
    /// Whether opendir may answer ENOSYS for success (set at INIT, like
    /// `writebackCache`).
    var statelessDirectories = false
    /// Whether the daemon is root: it then creates entries with each
    /// caller's credentials (CallerCredentials) and hands metadata files
    /// to their directory's owner.
    let runsAsRoot: Bool
    private let damageLog = OnceLog<BackingID>()
    /// Requests and bytes by operation, for `klfs status`.
    let statistics: OperationStatistics

    /// Opens the cipher dir; `volume` encrypts and decrypts its files.
    init(cipherDir: String, volume: UnlockedVolume, options: FilesystemOptions,
         statistics: OperationStatistics) throws(SystemError) {
        let rootFD = try checked(Glibc.open(cipherDir, cfuse_o_path | O_DIRECTORY | O_CLOEXEC))
        inodes = try InodeTable(rootFD: rootFD, descriptorCapacity: options.descriptorCapacity)
        self.volume = volume
        self.fileFormat = volume.fileFormat
        runsAsRoot = geteuid() == 0
        self.names = NameTranslation(volume: volume, runsAsRoot: runsAsRoot)
        self.xattrs = ExtendedAttributeTranslation(volume: volume)
        self.options = options
        self.statistics = statistics
    }

    /// The filesystem of the session that received `req`.
    static func serving(_ req: fuse_req_t) -> Filesystem {
        Unmanaged<Filesystem>.fromOpaque(fuse_req_userdata(req)!).takeUnretainedValue()
    }

    /// True for the volume's own files (klfs.conf and its temporary files
    /// at the top, directory IVs, long-name sidecars), which the mount
    /// neither shows nor lets anyone create, replace or remove. With
    /// encrypted names no plaintext name maps to them (and NameTranslation
    /// hides them from listings), so the check applies to plaintext names only.
    func isHidden(_ name: UnsafePointer<CChar>, in parent: Inode) -> Bool {
        !names.encrypts
            && VolumeMetadataNames.contains(String(cString: name), atRoot: parent.nodeID == inodes.root.nodeID)
    }

    /// One log line per damaged backing file, however often it is touched.
    func logDamaged(_ inode: Inode, _ why: String) {
        damageLog.error(inode.backing,
                        "klfs: backing file (inode \(inode.backing.inode)) is not a klfs file: \(why); reads and writes give EIO")
    }
}

/// Runs a request handler of the directory volume's file system.
func respond(_ req: fuse_req_t?, _ operation: CountedOperation,
             _ handler: (Filesystem, fuse_req_t) throws(SystemError) -> Void) {
    serve(req, operation, handler)
}
