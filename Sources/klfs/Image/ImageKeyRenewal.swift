import KLBlock
import KLEngine
import Synchronization

/// `klfs resume` of an image mount: the volume key is made again the way
/// the mount made it. Plain mode hashes the passphrase sent (or, for an
/// image opened with a keyfile, reads that keyfile again and ignores the
/// passphrase sent). LUKS2 opens a keyslot with the passphrase sent (or
/// the keyfile's bytes), and the key must match the digest of the header
/// the mount was opened with: a wrong passphrase, or a key of another
/// volume, leaves the mount suspended or locked.
final class ImageKeyRenewal: KeyRenewal {
    enum Format: Sendable {
        case plain(PlainImage.Parameters)
        /// The header as read at open.
        case luks2(LUKS2Header)
    }

    let imagePath: String
    let format: Format
    let key: ImageKeySource
    /// The layout the mount serves; a resume never changes it.
    let layout: ImageLayout
    /// The LUKS2 keyslot of the last unlock, for `klfs status`.
    private let keyslot: Mutex<Int?>

    init(imagePath: String, format: Format, key: ImageKeySource, layout: ImageLayout, keyslot: Int?) {
        self.imagePath = imagePath
        self.format = format
        self.key = key
        self.layout = layout
        self.keyslot = Mutex(keyslot)
    }

    var source: String { imagePath }
    var mode: String { "image" }

    var image: ImageStatusReport? {
        let type = switch format {
        case .plain: ImageType.plain
        case .luks2: ImageType.luks2
        }
        return ImageStatusReport(type: type.rawValue, keyslot: keyslot.withLock { $0 }, sectorSize: layout.sectorSize.bytes,
                                 payloadOffset: layout.payloadOffset, ivOffset: layout.ivOffset)
    }

    /// The secret sent dies here; the volume key dies inside makeDeviceKey.
    func renewedKeys(_ kind: ControlRequest.SecretKind, secret: SecretBytes,
                     engine: any XTSEngine) throws(CommandFailure) -> KeySet {
        defer { secret.wipe() }
        guard kind == .passphrase else {
            throw CommandFailure(.imageUnsupported, "an image mount resumes with its passphrase (or keyfile), not a master key")
        }
        do throws(ImageError) {
            let mapping = try ImageMapping(volumeKey: try volumeKey(passphrase: secret), layout: layout)
            let imageKey = try mapping.makeDeviceKey(with: engine)
            do throws(EngineError) { return try KeySet(imageKey: imageKey, engine: engine) } catch { throw ImageError.engine(error) }
        } catch {
            throw CommandFailure(error)
        }
    }

    /// The volume key from the passphrase sent (the caller's to wipe), or
    /// from the keyfile the mount was opened with.
    private func volumeKey(passphrase: SecretBytes) throws(ImageError) -> SecretBytes {
        switch format {
        case .plain(let parameters):
            switch key {
            case .passphrase:
                return try PlainKeyDerivation.key(fromPassphrase: passphrase, hash: parameters.hash)
            case .keyfile(let path, let offset, let sizeLimit):
                return try PlainKeyDerivation.key(fromKeyfile: path, offset: offset, sizeLimit: sizeLimit)
            }
        case .luks2(let header):
            var keyfileBytes: SecretBytes?
            if case .keyfile = key { keyfileBytes = try key.luks2Passphrase() }
            // The keyfile's bytes die here, once a keyslot has opened.
            defer { keyfileBytes?.wipe() }
            let unlocked = try LUKS2Image.reopen(path: imagePath, passphrase: keyfileBytes ?? passphrase, opened: header)
            keyslot.withLock { $0 = unlocked.keyslot }
            return unlocked.volumeKey
        }
    }
}
