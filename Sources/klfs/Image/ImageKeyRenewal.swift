import KLBlock
import KLEngine
import Synchronization

/// `klfs resume` of an image mount: the volume key is made again the way
/// the mount made it. Plain mode hashes the passphrase sent, or takes the
/// keyfile bytes sent (`klfs resume --keyfile`) as the key; an image
/// opened with a keyfile and resumed with a passphrase reads that keyfile
/// again and ignores the passphrase. LUKS2 opens a keyslot with the
/// passphrase or keyfile bytes sent (or the keyfile read again, the same
/// way), and the key must match the digest of the header
/// the mount was opened with: a wrong passphrase, or a key of another
/// volume, leaves the mount suspended or locked. Either way the new key
/// must pass the check of the key the mount opened with
/// (``ImageKeyCheck``), the only check plain mode has.
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
    /// The key the mount opened with, as a check value.
    let keyCheck: ImageKeyCheck

    init(imagePath: String, format: Format, key: ImageKeySource, layout: ImageLayout, keyslot: Int?,
         keyCheck: ImageKeyCheck) {
        self.imagePath = imagePath
        self.format = format
        self.key = key
        self.layout = layout
        self.keyslot = Mutex(keyslot)
        self.keyCheck = keyCheck
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
        guard kind != .masterkey else {
            throw CommandFailure(.imageUnsupported, "an image mount resumes with its passphrase (or keyfile), not a master key")
        }
        do throws(ImageError) {
            let mapping = try ImageMapping(volumeKey: try volumeKey(kind, secret: secret), layout: layout)
            let imageKey = try mapping.makeDeviceKey(with: engine)
            guard try ImageKeyCheck(imageKey) == keyCheck else { throw .notTheOpenedKey }
            do throws(EngineError) { return try KeySet(imageKey: imageKey, engine: engine) } catch { throw ImageError.engine(error) }
        } catch {
            throw CommandFailure(error)
        }
    }

    /// The volume key from the secret sent (the caller's to wipe): a
    /// passphrase (ignored by a keyfile-opened mount, which reads its
    /// keyfile again) or a keyfile's bytes.
    private func volumeKey(_ kind: ControlRequest.SecretKind, secret: SecretBytes) throws(ImageError) -> SecretBytes {
        let rereadsKeyfile = if case .keyfile = key, kind == .passphrase { true } else { false }
        switch format {
        case .plain(let parameters):
            switch (kind, key) {
            case (.keyfile, _):
                return try PlainKeyDerivation.key(fromKeyfileBytes: secret)
            case (_, .keyfile(let path, let offset, let sizeLimit)):
                return try PlainKeyDerivation.key(fromKeyfile: path, offset: offset, sizeLimit: sizeLimit)
            case (_, .passphrase):
                return try PlainKeyDerivation.key(fromPassphrase: secret, hash: parameters.hash)
            }
        case .luks2(let header):
            let keyfileBytes = rereadsKeyfile ? try key.readSecret() : nil
            // The keyfile's bytes die here, once a keyslot has opened.
            defer { keyfileBytes?.wipe() }
            let unlocked = try LUKS2Image.reopen(path: imagePath, passphrase: keyfileBytes ?? secret, opened: header)
            keyslot.withLock { $0 = unlocked.keyslot }
            return unlocked.volumeKey
        }
    }
}
