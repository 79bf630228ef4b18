import Glibc
import KLEngine

/// A LUKS2 image in image mode: its header gives the layout (the data
/// segment) and, through a keyslot, the volume key.
///
/// The segment maps to ``ImageLayout`` as cryptsetup maps it to a dm-crypt
/// table (lib/luks2's dm_crypt_target_set call): `offset` (bytes) is the
/// payload offset, `size` "dynamic" the rest of the image, `sector_size`
/// the sector size, `iv_tweak` dm-crypt's iv_offset *unchanged*, which
/// counts 512-byte sectors (cryptsetup's reencryption writes it as a byte
/// offset >> 9), and iv_large_sectors is always on. Sector n is then
/// encrypted with data unit (n·s + iv_tweak)/s, s = sector_size/512,
/// which is n + iv_tweak/s since the library refuses an iv_tweak that is
/// not a whole number of sectors (dm-crypt refuses it too).
public enum LUKS2Image {
    /// What opening gives: the mapping (whose volume key the caller wraps
    /// and wipes), the keyslot that opened, and the header as read, kept
    /// to check a key against at resume.
    public struct Opened: Sendable {
        public let mapping: ImageMapping
        public let keyslot: Int
        public let header: LUKS2Header
    }

    /// Reads and checks the header, then opens a keyslot (the one named,
    /// or cryptsetup's order) with the passphrase `key` gives.
    public static func open(path: String, key: ImageKeySource, keyslot: Int? = nil) throws(ImageError) -> Opened {
        let file = try luks2 { () throws(LUKS2Error) in try LUKS2ImageFile(path: path, writable: false) }
        let header = try luks2 { () throws(LUKS2Error) in try LUKS2Header.read(from: file) }
        let layout = try layout(of: try luks2 { () throws(LUKS2Error) in try header.metadata.requireSupported() })
        let passphrase = try key.readSecret()
        // The passphrase dies here, once a keyslot has opened (or none has).
        defer { passphrase.wipe() }
        let unlocked = try luks2 { () throws(LUKS2Error) in try header.unlock(passphrase: passphrase, keyslot: keyslot, in: file) }
        // The volume key goes to the mapping and dies in makeDeviceKey.
        return Opened(mapping: try ImageMapping(volumeKey: unlocked.volumeKey, layout: layout),
                      keyslot: unlocked.keyslot, header: header)
    }

    /// The volume key again, at `klfs resume`: `passphrase` (the caller's
    /// to wipe) opens a keyslot of the header as it is now, since keyslots
    /// may have been added or removed while mounted; the key must then
    /// match the digest of `opened`, the header the mount was opened with,
    /// so that an image formatted anew at the same path cannot put another
    /// key under the mount. A key that does not match dies here.
    public static func reopen(path: String, passphrase: SecretBytes, opened: LUKS2Header) throws(ImageError) -> LUKS2UnlockedKey {
        try luks2 { () throws(LUKS2Error) in
            let file = try LUKS2ImageFile(path: path, writable: false)
            let unlocked = try LUKS2Header.read(from: file).unlock(passphrase: passphrase, in: file)
            do throws(LUKS2Error) { try opened.verify(volumeKey: unlocked.volumeKey) } catch {
                // A key of another volume dies here.
                unlocked.volumeKey.wipe()
                throw error
            }
            return unlocked
        }
    }

    /// Makes a LUKS2 image whose data segment holds `dataSize` bytes,
    /// after the formatter's 16 MiB of headers and keyslots (the plaintext
    /// device is `dataSize` bytes, and grows with the image). An existing
    /// file is replaced only if it is empty or `force` is given, as plain
    /// mode's ``PlainImage/create(path:size:force:)`` does, and never one
    /// that is not a regular file. `passphrase` stays the caller's.
    public static func format(path: String, dataSize: Int, passphrase: SecretBytes, formatter: LUKS2Formatter,
                              force: Bool) throws(ImageError) {
        var status = stat()
        if lstat(path, &status) == 0 {
            guard (status.st_mode & S_IFMT) == S_IFREG else { throw .imageNotRegularFile(path: path) }
            guard status.st_size == 0 || force else { throw .imageNotEmpty(path: path) }
            guard unlink(path) == 0 else { throw .system(call: "unlink", path: path, errno: errno) }
        }
        let made = try luks2 { () throws(LUKS2Error) in
            try formatter.format(path: path, dataSize: dataSize, passphrase: passphrase)
        }
        // Formatting serves nothing: the new volume key dies here.
        made.volumeKey.wipe()
    }

    /// The data segment as an image layout (the rule above).
    public static func layout(of segment: LUKS2Segment) throws(ImageError) -> ImageLayout {
        guard let sectorSize = SectorSize(bytes: segment.sectorSize) else { throw .unsupportedSectorSize(segment.sectorSize) }
        let extent: ImageLayout.Extent
        switch segment.size {
        case .dynamic: extent = .restOfImage
        case .bytes(let bytes): extent = .fixed(bytes: Int(bytes))
        }
        return try ImageLayout(payloadOffset: Int(segment.offset), extent: extent, sectorSize: sectorSize,
                               ivOffset: segment.ivTweak, ivLargeSectors: true)
    }
}

/// Runs a LUKS2 library call; its error becomes ``ImageError/luks2(_:)``.
func luks2<R>(_ body: () throws(LUKS2Error) -> R) throws(ImageError) -> R {
    do throws(LUKS2Error) { return try body() } catch { throw .luks2(error) }
}
