import Glibc
import KLEngine

/// dm-crypt's plain mode: no header, the key from a passphrase or keyfile
/// (``PlainKeyDerivation``), the layout from the command line.
public enum PlainImage {
    /// What `cryptsetup open --type plain` takes besides the key.
    public struct Parameters: Sendable, Equatable {
        public var hash: PlainPassphraseHash = .ripemd160
        /// --offset: where the payload starts, in 512-byte sectors.
        public var offset: UInt64 = 0
        /// --skip: the IV offset, in 512-byte sectors.
        public var skip: UInt64 = 0
        /// --size: the device size in 512-byte sectors (nil: the rest of the image).
        public var size: UInt64?
        public var sectorSize = SectorSize(bytes: 512)!
        /// --iv-large-sectors.
        public var ivLargeSectors = false

        public init() {}

        public func layout() throws(ImageError) -> ImageLayout {
            try ImageLayout(payloadOffset: Int(offset) * 512,
                            extent: size.map { .fixed(bytes: Int($0) * 512) } ?? .restOfImage,
                            sectorSize: sectorSize, ivOffset: skip, ivLargeSectors: ivLargeSectors)
        }
    }

    /// The mapping `parameters` and `key` give. The passphrase dies here;
    /// the derived volume key goes to the mapping (and dies in
    /// ``ImageMapping/makeDeviceKey(with:)``).
    public static func mapping(_ parameters: Parameters, key: ImageKeySource) throws(ImageError) -> ImageMapping {
        let layout = try parameters.layout()
        let volumeKey: SecretBytes
        switch key {
        case .passphrase(let source):
            let passphrase: SecretBytes
            do throws(VolumeError) { passphrase = try source.read() } catch { throw .passphrase(error) }
            // The passphrase dies here, once hashed.
            defer { passphrase.wipe() }
            volumeKey = try PlainKeyDerivation.key(fromPassphrase: passphrase, hash: parameters.hash)
        case .keyfile(let path, let offset, let sizeLimit):
            volumeKey = try PlainKeyDerivation.key(fromKeyfile: path, offset: offset, sizeLimit: sizeLimit)
        }
        return try ImageMapping(volumeKey: volumeKey, layout: layout)
    }

    /// Creates a sparse image of `size` bytes (a multiple of 512): plain
    /// mode has no header, so every byte is payload. An existing file that
    /// holds data is refused unless `force`, which empties it first.
    public static func create(path: String, size: Int, force: Bool) throws(ImageError) {
        guard size > 0, size % 512 == 0 else { throw .misalignedSize(size, sectorSize: 512) }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .system(call: "open", path: path, errno: errno) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .system(call: "fstat", path: path, errno: errno) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw .imageNotRegularFile(path: path) }
        guard status.st_size == 0 || force else { throw .imageNotEmpty(path: path) }
        // Emptying first turns old ciphertext into holes as well.
        guard ftruncate(fd, 0) == 0, ftruncate(fd, off_t(size)) == 0 else {
            throw .system(call: "ftruncate", path: path, errno: errno)
        }
        guard fsync(fd) == 0 else { throw .system(call: "fsync", path: path, errno: errno) }
    }
}
